package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/dakenh/dakenh/ent/schema/schematype"
)

// downloadTimeout bounds fetching one attachment, body included.
const downloadTimeout = 30 * time.Second

// downloaded is an attachment's content, for providers that take uploads.
type downloaded struct {
	name string
	data []byte
}

// downloadError is a failed download, classified for the delivery worker.
// Its reason never quotes the URL, which may carry a signature.
type downloadError struct {
	transient bool
	reason    string
	cause     error
}

func (e *downloadError) Error() string {
	return "download attachment: " + e.reason + ": " + fmt.Sprint(e.cause)
}

func (e *downloadError) Unwrap() error { return e.cause }

// downloadFailure turns a download failure into the message's outcome.
func downloadFailure(err error) deliveryOutcome {
	if e, ok := errors.AsType[*downloadError](err); ok && e.transient {
		return outcomeRetry(e.reason, err)
	} else if ok {
		return outcomeFailed(e.reason, err)
	}
	return outcomeRetry("The attachment could not be downloaded.", err)
}

// downloadAttachment fetches a's URL, refusing more than limit bytes.
func (s *Service) downloadAttachment(ctx context.Context, a schematype.Attachment, limit int64) (*downloaded, error) {
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return nil, &downloadError{reason: "The attachment's URL is not valid.", cause: urlErrorCause(err)}
	}
	resp, err := s.out.download.Do(req)
	if err != nil {
		if errors.Is(err, errBlockedAddress) {
			return nil, &downloadError{reason: "The attachment's URL points to a private network address.", cause: urlErrorCause(err)}
		}
		return nil, &downloadError{transient: true, reason: "The attachment could not be downloaded.", cause: urlErrorCause(err)}
	}
	defer resp.Body.Close()
	tooLarge := &downloadError{reason: fmt.Sprintf("The file is larger than the %d MB the provider accepts.", limit>>20)}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests:
		return nil, &downloadError{transient: true, reason: fmt.Sprintf("The attachment could not be downloaded (HTTP %d).", resp.StatusCode)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &downloadError{reason: fmt.Sprintf("The attachment could not be downloaded (HTTP %d).", resp.StatusCode)}
	case resp.ContentLength > limit:
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &downloadError{transient: true, reason: "The attachment could not be downloaded.", cause: urlErrorCause(err)}
	}
	if int64(len(data)) > limit {
		return nil, tooLarge
	}
	return &downloaded{name: attachmentFileName(a), data: data}, nil
}

// attachmentFileName is the name a file is uploaded under: the attachment's own, or
// the last segment of its URL's path.
func attachmentFileName(a schematype.Attachment) string {
	if a.Name != "" {
		return a.Name
	}
	if u, err := url.Parse(a.URL); err == nil {
		if base := path.Base(u.Path); base != "" && base != "/" && base != "." {
			return base
		}
	}
	return "file"
}

// urlErrorCause unwraps a *url.Error, whose message quotes the URL.
func urlErrorCause(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// errBlockedAddress refuses a connection to a non-public address.
var errBlockedAddress = errors.New("address is not public")

// publicOnlyClient is the default download client. Attachment URLs come
// from API callers, so the server must not fetch its own network for them
// (cloud metadata, internal services): every connection, redirects
// included, is checked after DNS resolution, and proxies are not used
// since the proxy's own address would be the one checked.
func publicOnlyClient() *http.Client {
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !publicAddr(ip.Unmap()) {
				return errBlockedAddress
			}
			return nil
		},
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = dialer.DialContext
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

// carrierNAT is 100.64.0.0/10, shared address space that netip does not
// count as private.
var carrierNAT = netip.MustParsePrefix("100.64.0.0/10")

func publicAddr(ip netip.Addr) bool {
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !carrierNAT.Contains(ip) &&
		!strings.HasPrefix(ip.String(), "0.")
}
