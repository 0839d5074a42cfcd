package scheme

// table maps each scheme's name, as `type:` and MCP_API_AUTH write it, to
// its implementation. Adding a scheme is one file and one line here.
var table = map[string]Scheme{
	"bearer":                    bearer{},
	"header":                    header{},
	"query":                     query{},
	"basic":                     basic{},
	"none":                      none{},
	"oauth2_client_credentials": oauth2ClientCredentials{},
	"aws_sigv4":                 awsSigV4{},
	"oauth2_refresh_token":      oauth2RefreshToken{},
	"google_service_account":    googleServiceAccount{},
}
