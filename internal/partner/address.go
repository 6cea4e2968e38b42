package partner

import (
	"fmt"
	"net/netip"
)

// blocked are the ranges no delivery may reach besides loopback and the
// private and link-local ones netip already names: addresses that lead
// into the server's own network or nowhere a partner lives.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT; Alibaba's metadata at 100.100.100.200
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast included
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated, still routed by some)
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments
	netip.MustParsePrefix("2002::/16"),       // 6to4, which may embed a private IPv4 address
	netip.MustParsePrefix("::ffff:0:0/96"),   // IPv4-mapped, checked unmapped instead
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64, which may embed a private IPv4 address
	netip.MustParsePrefix("fd00:ec2::/32"),   // AWS's IPv6 metadata (also private)
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local: cloud metadata at 169.254.169.254
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// checkAddress reports why a delivery may not go to ip: loopback (unless
// allowLoopback, the development setting), private, link-local (cloud
// metadata lives there), unspecified, multicast or another reserved range.
func checkAddress(ip netip.Addr, allowLoopback bool) error {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return fmt.Errorf("no address")
	case ip.IsLoopback():
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%s is a loopback address", ip)
	case ip.IsPrivate():
		return fmt.Errorf("%s is a private address", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return fmt.Errorf("%s is a link-local address", ip)
	case ip.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address", ip)
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%s is a multicast address", ip)
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return fmt.Errorf("%s is in the reserved range %s", ip, p)
		}
	}
	return nil
}
