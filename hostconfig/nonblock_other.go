//go:build !unix

package hostconfig

// nonblock is not needed where there are no FIFOs in the file system.
const nonblock = 0
