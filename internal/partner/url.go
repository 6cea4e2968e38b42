package partner

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/dakenh/dakenh/internal/apierr"
)

// maxURLLength bounds an endpoint's URL, in bytes.
const maxURLLength = 2048

// checkURL returns the endpoint URL raw as it is stored, or a BAD_USER_INPUT
// error on field saying what is wrong: the URL must be https, or http to
// loopback when insecure (the development setting) allows it; it carries
// no user name, password or fragment; and a literal address must be one
// deliveries may reach. A host name is checked again each time it is
// resolved, when a delivery connects (see Client).
func checkURL(field, raw string, insecure bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", apierr.BadInput(field, "url is required")
	}
	if len(raw) > maxURLLength {
		return "", apierr.BadInput(field, "url is longer than %d bytes", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", apierr.BadInput(field, "url must be an absolute URL such as https://partner.example.vn/dakenh")
	}
	if u.User != nil {
		return "", apierr.BadInput(field, "url must not carry a user name or password; authenticate deliveries by their signature")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", apierr.BadInput(field, "url must not have a fragment")
	}
	host := u.Hostname()
	ip, literal := parseHost(host)
	switch u.Scheme {
	case "https":
	case "http":
		loopback := strings.EqualFold(host, "localhost") || literal && ip.Unmap().IsLoopback()
		if !insecure || !loopback {
			return "", apierr.BadInput(field, "url must use https (http is allowed only to loopback, with DAKENH_ALLOW_INSECURE_WEBHOOKS=true for development)")
		}
	default:
		return "", apierr.BadInput(field, "url must use https")
	}
	if literal {
		if err := checkAddress(ip, insecure); err != nil {
			return "", apierr.BadInput(field, "url may not point at %v", err)
		}
	}
	return u.String(), nil
}

// parseHost returns the address a URL's host spells, if it is one.
func parseHost(host string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip, true
}
