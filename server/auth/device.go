package auth

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// DeviceScopes are what a device bridge authenticated by its client
// certificate may do: post and correct its Observations and read devices.
// The server confines them to the device's compartment (Principal.Device):
// Observations that name the device, and the Device itself.
const DeviceScopes = "system/Observation.cru system/Device.rs"

// DevicePrincipal maps a verified client certificate to a Device identity
// with the device role. The Device id is the certificate's subject common
// name, which must be a valid FHIR id; the certificate chain has been
// verified by the TLS layer against the configured client CA.
func DevicePrincipal(cert *x509.Certificate) (*Principal, error) {
	cn := cert.Subject.CommonName
	if !resources.ValidID(cn) {
		return nil, &Error{Status: 401, Code: "security",
			Msg: fmt.Sprintf("client certificate subject CN %q is not a Device id", printable(cn)), Challenge: `Bearer realm="yiyang"`}
	}
	scopes, _, err := ParseScopes(DeviceScopes)
	if err != nil {
		return nil, err
	}
	return &Principal{
		Subject:  "Device/" + cn,
		ClientID: "mtls:" + strings.ToLower(cert.SerialNumber.Text(16)),
		FHIRUser: "Device/" + cn,
		Device:   cn,
		Scopes:   scopes,
		Roles:    []string{"device"},
		Expiry:   cert.NotAfter,
	}, nil
}
