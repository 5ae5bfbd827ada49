package peer

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOwnerOfALoopbackConnection(t *testing.T) {
	// keyward's link page listens on 127.0.0.1 only; tcp6's format is
	// covered by TestParseAddr.
	for _, network := range []string{"tcp4"} {
		t.Run(network, func(t *testing.T) {
			ln, err := net.Listen(network, "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			c, err := net.Dial(network, ln.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			s, err := ln.Accept()
			require.NoError(t, err)
			defer s.Close()
			peer := netip.MustParseAddrPort(s.RemoteAddr().String())
			self := netip.MustParseAddrPort(s.LocalAddr().String())
			uid, err := Owner(peer, self)
			require.NoError(t, err)
			assert.Equal(t, os.Getuid(), uid)
			_, err = Owner(netip.MustParseAddrPort("127.0.0.1:1"), self)
			assert.Error(t, err, "no such socket")
		})
	}
}

func TestParseAddr(t *testing.T) {
	a, ok := parseAddr("0100007F:1F90")
	require.True(t, ok)
	assert.Equal(t, "127.0.0.1:8080", a.String())
	a, ok = parseAddr("00000000000000000000000001000000:0050")
	require.True(t, ok)
	assert.Equal(t, "[::1]:80", a.String())
	for _, bad := range []string{"", "zz:1", "0100007F", "0100007F:zz", "01007F:1"} {
		_, ok := parseAddr(bad)
		assert.False(t, ok, bad)
	}
}
