// Package scheme holds the ways keyveil attaches a credential to a
// request: bearer, header, query, basic, OAuth 2.0 and the rest, one file
// each, behind the one [Scheme] interface and registered in one table.
//
// A scheme says which environment variables it reads, how its settings
// are validated, which values the Redactor must know (derived ones too),
// how it attaches them, and which headers and parameters are stripped from
// every request that is not its service's.
//
// What does not live here: reading variables, NAME_FILE and keychain:
// references, the Redactor and the Transport that decides which origin
// gets which part (all in package credentials), and the services file
// (package config). This package imports neither, so that both can use it.
package scheme
