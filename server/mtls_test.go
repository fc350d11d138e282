package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/server"
)

// testCA issues certificates for the mutual TLS test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert, key}
}

func (ca *testCA) issue(t *testing.T, cn string, client bool) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestDeviceMutualTLS: a device bridge with a client certificate from the
// configured CA can post Observations (and nothing else); without one, or
// with one from another CA, it cannot.
func TestDeviceMutualTLS(t *testing.T) {
	_, v := testIssuer(t)
	parser, _ := resources.NewParser()
	st := backends()[0].open(t)
	srv, err := server.New(server.Config{Store: st, Parser: parser, Logger: testLogger(t), Auth: v, Audit: &server.AuditConfig{Sync: true}})
	if err != nil {
		t.Fatal(err)
	}
	ca, rogue := newCA(t, "Meizhou device CA"), newCA(t, "someone else")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca.issue(t, "server", false)},
		ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
	}
	send := func(hc *http.Client, method, path, body string) (int, string, error) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	post := func(hc *http.Client, path, body string) (int, string, error) {
		return send(hc, http.MethodPost, path, body)
	}
	obs := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"device":{"reference":"Device/wristband-gw-01"},"valueQuantity":{"value":72,"system":"http://unitsofmeasure.org","code":"/min"}}`
	device := client(ca.issue(t, "wristband-gw-01", true))
	if status, body, err := post(device, "/Observation", obs); err != nil || status != http.StatusCreated {
		t.Fatalf("device with a certificate: %d %v %s", status, err, body)
	}
	if status, _, err := post(device, "/Patient", `{"resourceType":"Patient"}`); err != nil || status != http.StatusForbidden {
		t.Fatalf("a device may not create Patients: %d %v", status, err)
	}
	// A device bridge reaches its own Observations only: not another
	// device's, not one it did not make.
	other := strings.Replace(obs, "wristband-gw-01", "wristband-gw-02", 1)
	if status, _, err := post(device, "/Observation", other); err != nil || status != http.StatusForbidden {
		t.Fatalf("a device posts another device's Observation: %d %v", status, err)
	}
	foreign := `{"resourceType":"Observation","id":"foreign","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}`
	if _, _, err := st.Update(context.Background(), resources.UpdateParams{Type: "Observation", ID: "foreign", Data: []byte(foreign)}); err != nil {
		t.Fatal(err)
	}
	if status, _, err := send(device, http.MethodPut, "/Observation/foreign", strings.Replace(foreign, `"status"`, `"device":{"reference":"Device/wristband-gw-01"},"status"`, 1)); err != nil || status != http.StatusForbidden {
		t.Fatalf("a device overwrites an Observation it did not make: %d %v", status, err)
	}
	if status, _, err := send(device, http.MethodGet, "/Observation/foreign", ""); err != nil || status != http.StatusNotFound {
		t.Fatalf("a device reads an Observation it did not make: %d %v", status, err)
	}
	if status, _, err := post(client(), "/Observation", obs); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("no certificate, no token: %d %v", status, err)
	}
	// A certificate from another CA is either not offered by the client (it
	// does not match the server's acceptable CAs) or refused in the
	// handshake; either way the request is not a device's.
	if status, _, err := post(client(rogue.issue(t, "wristband-gw-01", true)), "/Observation", obs); err == nil && status != http.StatusUnauthorized {
		t.Fatalf("a certificate from another CA: %d", status)
	}
	forced := rogue.issue(t, "wristband-gw-01", true)
	pushy := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &forced, nil }}}}
	if status, _, err := post(pushy, "/Observation", obs); err == nil {
		t.Fatalf("a certificate from another CA, sent anyway, must fail the handshake; got %d", status)
	}
	events := func() int { return auditCount(t, st) }
	before := events()
	if status, _, err := post(client(ca.issue(t, "not a valid id!", true)), "/Observation", obs); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("a certificate whose CN is not a Device id: %d %v", status, err)
	}
	// A refused certificate is a failed authentication: it is audited.
	if n := events(); n != before+1 {
		t.Fatalf("%d events after the refused certificate, want %d", n, before+1)
	}
}
