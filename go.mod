module github.com/keyveil/keyveil

go 1.26.8

require (
	github.com/caarlos0/env/v11 v11.4.2
	go.yaml.in/yaml/v3 v3.0.6
)
