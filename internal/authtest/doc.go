// Package authtest holds token endpoints and request verifiers that
// check a credential the way the real service would, for tests of the
// auth schemes in credentials/scheme. A test that only looks at a header
// proves the header is there; these servers prove it is right: they
// verify the grant, the client, the signature and the claims, and refuse
// everything else.
//
// Only tests import it. Its servers listen on loopback and hand out
// values that contain "LEAKCHECK", so a test can search captured output
// for them.
package authtest
