#!/usr/bin/env python3
"""A small draft-ietf-acme-email-tls client (a mail-server operator), for acmeproof's
client-under-test tests.

Written as a third party would: certbot's `acme` library for JWS, nonces and the account,
`cryptography` for the CSR, `requests` for the world's management API, which plays the
operator's own DNS and mail servers (POST /dns/records for dns-email-00, PUT /mail/acme/<service>
for capability-*-00). Two placements of `service`/`port`:

- `--draft-figure-1` (the draft as written): a plain `dns` order, and the challenge POST carries
  them as every version's Figure 1 does: protected header parameters (`--draft 02`, -00…-04),
  or (`--draft 05`, the default) payload members as -05 §3.1 and Figure 1 have them and the
  same protected header parameters, which -05 §3 item 1 still names. One service per order.
- without it, acmeproof's newOrder proposal: members of the `dns` identifier objects of newOrder,
  one per service.

`--break` makes it wrong in one way so the tests can show what acmeproof finds. Exit codes: 0
with a certificate, 1 on failure, 89 for what it does not implement.
"""

import argparse
import base64
import hashlib
import json
import sys
import time

import josepy as jose
import requests
from acme import client as acme_client
from acme import messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

BREAKS = ["none", "no-service", "no-port", "wrong-digest"]
USER_AGENT = "email-tls-client/1 python-acme"
EXIT_UNIMPLEMENTED = 89
DEADLINE_SECS = 60
IANA_PORTS = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
              "pop3": 110, "pop3s": 995}
CAPABILITY = {"smtp": "capability-smtp-00", "submission": "capability-smtp-00",
              "submissions": "capability-smtp-00", "imap": "capability-imap-00",
              "imaps": "capability-imap-00", "pop3": "capability-pop-00",
              "pop3s": "capability-pop-00"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fail(message: str) -> None:
    print(f"email_tls_client: {message}", file=sys.stderr)
    sys.exit(1)


class Empty(jose.JSONObjectWithFields):
    """`{}` (python-acme sends a POST-as-GET for a falsy object; see rfc8823_client.py)."""

    def __bool__(self) -> bool:
        return True


class RawOrder(jose.JSONDeSerializable):
    """A newOrder payload as given: python-acme's NewOrder has no `service`/`port`."""

    def __init__(self, body):
        self.body = body

    def to_partial_json(self):
        return self.body

    @classmethod
    def from_json(cls, jobj):
        return cls(jobj)


def services_of(text: str):
    out = []
    for item in text.split(","):
        name, _, port = item.partition(":")
        if name not in IANA_PORTS:
            print(f"service {name!r} is not implemented", file=sys.stderr)
            sys.exit(EXIT_UNIMPLEMENTED)
        out.append((name, int(port) if port else IANA_PORTS[name]))
    return out


def poll(acme, url: str, done, what: str):
    deadline = time.monotonic() + DEADLINE_SECS
    while time.monotonic() < deadline:
        body = acme._post_as_get(url).json()
        if done(body):
            return body
        if body.get("status") == "invalid":
            fail(f"{what} is invalid: {body}")
        time.sleep(0.1)
    fail(f"{what} did not finish in {DEADLINE_SECS} s")


def post_with_header(acme, ca_bundle: str, account_key, url: str, payload, extra: dict):
    """A JWS POST whose protected header carries `extra` (python-acme cannot add header
    parameters): RFC 8555 §6.2 flattened JSON, ES256, kid, a fresh nonce (§7.2)."""
    nonce = requests.head(acme.directory["newNonce"], verify=ca_bundle,
                          headers={"User-Agent": USER_AGENT}, timeout=10).headers["Replay-Nonce"]
    protected = {"alg": "ES256", "kid": acme.net.account.uri, "nonce": nonce, "url": url}
    protected.update(extra)
    p64 = b64url(json.dumps(protected).encode())
    b64 = b64url(json.dumps(payload).encode())
    signature = jose.ES256.sign(account_key.key, f"{p64}.{b64}".encode())
    body = {"protected": p64, "payload": b64, "signature": b64url(signature)}
    r = requests.post(url, data=json.dumps(body), verify=ca_bundle, timeout=10,
                      headers={"Content-Type": "application/jose+json", "User-Agent": USER_AGENT})
    if r.status_code >= 300:
        fail(f"challenge POST {url}: {r.status_code} {r.text}")
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ["directory", "ca-bundle", "domain", "services", "proof", "management", "workdir"]:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--break", dest="break_", choices=BREAKS, default="none")
    parser.add_argument("--draft-figure-1", action="store_true",
                        help="service/port in the challenge POST (plain dns order)")
    parser.add_argument("--draft", choices=["02", "05"], default="05",
                        help="with --draft-figure-1: protected header (02), "
                        "or payload and header (05)")
    args = parser.parse_args()
    services = services_of(args.services)
    if args.draft_figure_1 and len(services) > 1:
        print("one service per order under the draft's placement", file=sys.stderr)
        sys.exit(EXIT_UNIMPLEMENTED)

    account_key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = acme_client.ClientNetwork(account_key, alg=jose.ES256, verify_ssl=args.ca_bundle,
                                    user_agent=USER_AGENT)
    directory = acme_client.ClientV2.get_directory(args.directory, net)
    acme = acme_client.ClientV2(directory, net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))

    identifiers = []
    for service, port in services:
        ident = {"type": "dns", "value": args.domain}
        # acmeproof's proposal: service and port in the identifier objects, one per service.
        if args.break_ != "no-service" and not args.draft_figure_1:
            ident["service"] = service
            if args.break_ != "no-port":
                ident["port"] = port
        identifiers.append(ident)
    response = acme._post(directory["newOrder"], RawOrder({"identifiers": identifiers}))
    order_url = response.headers["Location"]
    order = response.json()

    thumbprint = b64url(account_key.public_key().thumbprint(hash_function=hashes.SHA256))
    published = []
    answered = []
    for authz_url in order["authorizations"]:
        authz = acme._post_as_get(authz_url).json()
        if authz["status"] == "valid":
            continue
        # One authorization per service ordered; its challenges name the service and port
        # they prove (-05 §3.3, §3.4).
        named = next((c for c in authz["challenges"] if "service" in c), None)
        service, port = (named["service"], named.get("port")) if named else services[0]
        if service not in CAPABILITY:
            print(f"service {service!r} is not implemented", file=sys.stderr)
            sys.exit(EXIT_UNIMPLEMENTED)
        port = port or dict(services).get(service)
        wanted = "dns-email-00" if args.proof == "dns-email" else CAPABILITY[service]
        challenge = next((c for c in authz["challenges"] if c["type"] == wanted), None)
        if challenge is None:
            offered = sorted(c["type"] for c in authz["challenges"])
            fail(f"no {wanted} for {service}/{port} offered: {offered}")
        key_authorization = f"{challenge['token']}.{thumbprint}"
        if args.break_ == "wrong-digest":
            key_authorization += "x"
        digest = b64url(hashlib.sha256(key_authorization.encode()).digest())
        if wanted == "dns-email-00":
            # -05 §3.3: TXT at _<port>._<service>._acme-challenge.<domain>
            name = f"_{port}._{service}._acme-challenge.{args.domain}"
            r = requests.post(f"{args.management}/dns/records",
                              json={"name": name, "type": "TXT", "value": digest}, timeout=10)
            published.append(("dns", name))
        else:
            # -05 §3.4: the server advertises ACME <digest> (the operator configures it).
            r = requests.put(f"{args.management}/mail/acme/{service}",
                             json={"digest": digest}, timeout=10)
            published.append(("mail", service))
        if r.status_code >= 300:
            fail(f"publishing for {service}: {r.status_code} {r.text}")
        answered.append((challenge["url"], authz_url))

    for challenge_url, _ in answered:
        if not args.draft_figure_1:
            acme._post(challenge_url, Empty())
            continue
        # Figure 1 of every draft version: the challenge response names the service and port.
        service, port = services[0]
        fields = {}
        if args.break_ != "no-service":
            fields["service"] = service
            if args.break_ != "no-port":
                fields["port"] = port
        if args.draft == "02":
            post_with_header(acme, args.ca_bundle, account_key, challenge_url, {}, fields)
        else:
            # -05: the payload (§3.1, Figure 1) and the header its §3 item 1 still names.
            post_with_header(acme, args.ca_bundle, account_key, challenge_url, fields, fields)
    for authz_url in sorted({a for _, a in answered}):
        poll(acme, authz_url, lambda a: a.get("status") == "valid", "the authorization")
    for kind, what in published:
        if kind == "dns":
            requests.delete(f"{args.management}/dns/records", params={"name": what, "type": "TXT"},
                            timeout=10)
        else:
            requests.delete(f"{args.management}/mail/acme/{what}", timeout=10)

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(args.domain)]), critical=False)
           .sign(key, hashes.SHA256()))
    acme._post(order["finalize"], messages.CertificateRequest(csr=csr))
    order = poll(acme, order_url, lambda o: o.get("status") == "valid", "the order")
    chain = acme._post_as_get(order["certificate"]).text
    with open(f"{args.workdir}/cert.pem", "w", encoding="ascii") as out:
        out.write(chain)
    with open(f"{args.workdir}/key.pem", "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    print(f"certificate for {args.domain} ({args.services}) in {args.workdir}/cert.pem")


if __name__ == "__main__":
    main()
