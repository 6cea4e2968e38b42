package partner_test

import (
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/partner"
)

// TestSignature: the header carries the time and one HMAC-SHA256 of
// "<t>.<body>" per secret, current first; the values were computed
// independently with `openssl dgst -sha256 -hmac`.
func TestSignature(t *testing.T) {
	at := time.Unix(1700000000, 0)
	body := []byte(`{"id":"whd_1"}`)
	for _, tc := range []struct {
		name    string
		secrets []string
		want    string
	}{
		{"OneSecret", []string{"whsec_test"}, "t=1700000000,v1=a1b1f3e77a2f647870449a548eedebc016b0f416e5016b6bb665d5eba4958fdd"},
		{"DuringRotation", []string{"whsec_test", "whsec_old"},
			"t=1700000000,v1=a1b1f3e77a2f647870449a548eedebc016b0f416e5016b6bb665d5eba4958fdd,v1=4c5ffcc10c516cc2f0b9236e8118557a9bf8e8726de6c5f4b5984dbd2d07287f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := partner.Signature(at, body, tc.secrets...); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
