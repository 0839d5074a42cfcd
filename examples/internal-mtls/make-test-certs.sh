#!/bin/sh
# Makes throwaway certificates for trying examples/internal-mtls: a test
# CA, a server certificate for localhost/127.0.0.1 and a client
# certificate for keyveil, all signed by that CA. NOT for real use: the
# committed test-certs/ were made by this script and their keys are public.
#
#   sh examples/internal-mtls/make-test-certs.sh [DIR]   (default: test-certs beside this script)
set -eu
dir=${1:-$(dirname "$0")/test-certs}
days=36500 # long-lived, so that the example keeps passing keyveil check
mkdir -p "$dir"
cd "$dir"
umask 077

# The CA an internal API's certificates chain to (tls.ca_file).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
	-subj "/CN=keyveil example CA (test only)" -keyout ca-key.pem -out ca.pem 2>/dev/null

# The server's certificate, for a local test server.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=localhost" -keyout server-key.pem -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
	-extfile server.ext -out server.pem 2>/dev/null

# keyveil's client certificate (tls.client_cert_env) and its key
# (tls.client_key_env), in PKCS#8 PEM.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=keyveil example client (test only)" -keyout client-key.pem -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
	-extfile client.ext -out client.pem 2>/dev/null

rm -f server.csr client.csr server.ext client.ext ca.srl
chmod 644 ca.pem server.pem client.pem
echo "made $dir: ca.pem (tls.ca_file), client.pem and client-key.pem (keyveil's), server.pem and server-key.pem (a test server's)" >&2
