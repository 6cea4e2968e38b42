package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAttackQueries sends the small documents that once kept a core busy
// for minutes; each must be refused, before validation, with the limit it
// breaks. The test's patience, not a timer, guards against a hang.
func TestAttackQueries(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Attack Org")
	var chain strings.Builder
	chain.WriteString("query Chain { me { ...F26 } }\nfragment F0 on User { id }\n")
	for i := 1; i <= 26; i++ {
		fmt.Fprintf(&chain, "fragment F%d on User { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 1000 {
		fmt.Fprintf(&aliases, "a%d: __typename ", i)
	}
	aliases.WriteString("}")
	for _, tc := range []struct {
		name, query, limit string
	}{
		{"ChainedFragments", chain.String(), "fields"},
		{"TenThousandRepeatedFields", "{ " + strings.Repeat("me { id } ", 10_000) + "}", "tokens"},
		{"RepeatedFields", "{ " + strings.Repeat("me { id } ", 1500) + "}", "fields"},
		{"Aliases", aliases.String(), "aliases"},
		{"Tokens", "{ " + strings.Repeat("__typename ", 30_000) + "}", "tokens"},
		{"Spreads", "query { me { " + strings.Repeat("...U ", 1000) + "} } fragment U on User { id }", "fragmentSpreads"},
		{"NestedConnections", "{ customers(first: 100) { edges { node { id tags { customers(first: 100) { edges { node { id tags { customers(first: 100) { edges { node { id name } } } } } } } } } } } }", "complexity"},
		{"NestedDefaultPages", "{ customers { edges { node { id tags { customers { edges { node { id name } } } } } } } }", "complexity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.gql(tn.agentToken, tc.query, nil)
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["limit"] != tc.limit {
				t.Fatalf("got %d %+v", r.Status, r.Errors)
			}
		})
	}
	t.Run("OrdinaryFragmentsPass", func(t *testing.T) {
		q := "query { me { ...A ...B } } fragment A on User { id email } fragment B on User { id role }"
		if r := e.gql(tn.agentToken, q, nil); r.code() != "" {
			t.Fatalf("refused: %+v", r.Errors)
		}
	})
}

// TestMalformedBodiesAreNotLogged posts bodies that do not decode, holding a
// password, an access token and a 200 KB blob, and checks that each is a
// client error naming what is wrong and that none of them reaches the log.
func TestMalformedBodiesAreNotLogged(t *testing.T) {
	e := newEnv(t)
	const password, token = "hunter2-never-logged", "zalo-access-token-never-logged"
	blob := strings.Repeat("b", 200<<10)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"TruncatedLogin", `{"query":"mutation { login(email: \"a@b.vn\", password: \"` + password + `\") { token } }","extensions":`, "body"},
		{"ExtensionsNotObject", `{"query":"mutation { login(email: \"a@b.vn\", password: \"` + password + `\") { token } }","extensions":"` + token + `"}`, "extensions"},
		{"VariablesNotObject", `{"query":"mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }","variables":["` + token + `"]}`, "variables"},
		{"QueryNotString", `{"query":{"blob":"` + blob + `"}}`, "query"},
		{"NotJSON", `query=` + blob, "body"},
		{"Array", `["` + password + `"]`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader([]byte(tc.body)))
			req.Header.Set("Content-Type", "application/json")
			r := e.send(req)
			if r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %d %+v", r.Status, r.Errors)
			}
		})
	}
	log := e.logText()
	for name, secret := range map[string]string{"password": password, "token": token, "blob": blob[:1024]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
	if strings.Contains(log, `"level":"ERROR"`) {
		t.Errorf("client mistakes logged at ERROR:\n%s", log)
	}
}
