//go:build !unix

package boundedfile

// nonblock is not needed where there are no FIFOs in the file system.
const nonblock = 0
