module github.com/keyveil/keyveil

go 1.26.8

require (
	github.com/caarlos0/env/v11 v11.4.2
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/joho/godotenv v1.5.1 // indirect
	github.com/modelcontextprotocol/go-sdk v1.8.0 // indirect
)
