"""go-plugin's AutoMTLS, plugin side (go-plugin v1.8.0 server.go and
mtls.go).

The host generates a self-signed certificate and passes it, PEM, in the
environment variable PLUGIN_CLIENT_CERT. The plugin generates its own
self-signed certificate and key, serves TLS that requires a client
certificate signed by (here: equal to) the host's, and returns its own
certificate, DER encoded in base64 without padding (Go's
base64.RawStdEncoding), as the handshake line's sixth field. The host then
trusts exactly that certificate (RootCAs and ClientCAs) and checks it for
the name "localhost". The plugin presents the same certificate as a client
when it dials the host's broker services, which the host serves with its
certificate and verifies against the plugin's.

The certificate mirrors go-plugin's generateCert: CN and DNS SAN
"localhost", a CA (basic constraints, critical), key usage digital
signature, key encipherment, key agreement and certificate signing,
extended key usage client and server authentication, a random 128-bit
serial, valid from 30 s ago for 262980 h. The key is ECDSA P-256 (go-plugin
uses P-521; Go's TLS accepts either, and P-256 is faster here).
"""

import base64
import datetime
import os

CLIENT_CERT_ENV = "PLUGIN_CLIENT_CERT"


class AutoMTLS:
    """The plugin's certificate and key, and the host's certificate."""

    def __init__(self, host_cert_pem):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        self.host_cert_pem = host_cert_pem.encode() if isinstance(host_cert_pem, str) else host_cert_pem
        x509.load_pem_x509_certificate(self.host_cert_pem)  # a clear error here, not in the TLS handshake
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ipbench"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(int.from_bytes(os.urandom(16), "big") | 1)
            .not_valid_before(now - datetime.timedelta(seconds=30))
            .not_valid_after(now + datetime.timedelta(hours=262980))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=True, key_cert_sign=True, crl_sign=False,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256())
        )
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        der = cert.public_bytes(serialization.Encoding.DER)
        self.handshake_cert = base64.b64encode(der).decode().rstrip("=")  # RawStdEncoding

    def server_credentials(self):
        import grpc
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)], root_certificates=self.host_cert_pem, require_client_auth=True)

    def channel_credentials(self):
        import grpc
        return grpc.ssl_channel_credentials(
            root_certificates=self.host_cert_pem, private_key=self.key_pem, certificate_chain=self.cert_pem)


def from_env():
    """The AutoMTLS of this process, or None when the host asks for none."""
    pem = os.environ.get(CLIENT_CERT_ENV, "")
    if not pem:
        return None
    return AutoMTLS(pem)
