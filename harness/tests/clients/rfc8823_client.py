#!/usr/bin/env python3
"""A small RFC 8823 (email-reply-00) ACME client and MUA, for acmeproof's client-under-test tests.

It is written the way a third party would write one: the `acme` library (certbot's) for the
ACME side (JWS, nonces, accounts), `imaplib` to read the challenge, `dkimpy` to verify its DKIM
signature against the given DNS server, `smtplib` to send the reply through Submission, and
`cryptography` for the CSR. `--break` makes it deliberately wrong in one way, so the tests can
show that acmeproof finds exactly that.

Run by `acmeproof run --client-cmd '... {directory_url} ...'`. Exit codes: 0 with a certificate,
1 on failure, 89 when asked for something it does not implement (acmeproof: "unimplemented").
"""

import argparse
import base64
import email
import email.policy
import hashlib
import imaplib
import smtplib
import ssl
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlparse

import dkim
import dns.resolver
import josepy as jose
from acme import client as acme_client
from acme import messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

BREAKS = ["none", "no-in-reply-to", "wrong-join", "no-dkim", "other-address", "no-dkim-check",
          "reply-twice"]
EXIT_UNIMPLEMENTED = 89
DEADLINE_SECS = 60  # --deadline changes it


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fail(message: str) -> None:
    print(f"rfc8823_client: {message}", file=sys.stderr)
    sys.exit(1)


class Empty(jose.JSONObjectWithFields):
    """The `{}` a challenge is POSTed with (RFC 8555 §7.5.1).

    python-acme sends an empty payload (a POST-as-GET) for any object that is falsy, and an
    object without fields is: without `__bool__` this would only read the challenge."""

    def __bool__(self) -> bool:
        return True


def host_port(url: str):
    parsed = urlparse(url)
    return parsed.hostname, parsed.port


def resolver_for(dns_addr: str) -> dns.resolver.Resolver:
    host, port = dns_addr.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    return resolver


def dkim_passes(raw: bytes, resolver: dns.resolver.Resolver, domain: str) -> bool:
    """Whether a DKIM signature of `domain` verifies, with keys from the world's DNS."""

    def txt(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        try:
            answer = resolver.resolve(name, "TXT", lifetime=timeout)
        except Exception:  # noqa: BLE001 - no key is "does not verify"
            return None
        for record in answer:
            return b"".join(record.strings)
        return None

    verifier = dkim.DKIM(raw)
    try:
        ok = verifier.verify(dnsfunc=txt)
    except dkim.DKIMException as e:
        print(f"DKIM: {e}", file=sys.stderr)
        return False
    if not ok:
        print(f"DKIM: the signature of d={verifier.domain} does not verify", file=sys.stderr)
    return bool(ok) and (verifier.domain or b"").decode().lower() == domain


def open_mailbox(args, ctx):
    host, port = host_port(args.imap_url)
    imap = imaplib.IMAP4(host, port, timeout=30)
    imap.starttls(ssl_context=ctx)
    imap.login(args.user, args.password)
    imap.select("INBOX")
    return imap


def find_challenge(imap, challenge_from: str, resolver, seen: set, check_dkim: bool = True):
    """The first new message that is a valid challenge (RFC 8823 §3.1; digest §1.8)."""
    status, data = imap.uid("SEARCH", None, "ALL")
    if status != "OK":
        fail(f"IMAP SEARCH failed: {data}")
    for uid in data[0].split():
        if uid in seen:
            continue
        seen.add(uid)
        status, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = next(p[1] for p in parts if isinstance(p, tuple))
        message = email.message_from_bytes(raw, policy=email.policy.default)
        sender = parseaddr(str(message.get("From", "")))[1]
        subject = " ".join(str(message.get("Subject", "")).split())
        if sender.lower() != challenge_from.lower():
            print(f"ignored: From {sender}, not {challenge_from}", file=sys.stderr)
            continue
        if not subject.startswith("ACME:"):
            print(f"ignored: Subject {subject!r}", file=sys.stderr)
            continue
        if not str(message.get("Auto-Submitted", "")).lower().startswith("auto-generated"):
            print("ignored: no Auto-Submitted: auto-generated", file=sys.stderr)
            continue
        if check_dkim and not dkim_passes(raw, resolver, challenge_from.rsplit("@", 1)[1].lower()):
            print("ignored: its DKIM signature does not verify", file=sys.stderr)
            continue
        token_part1 = "".join(subject[len("ACME:"):].split())
        return uid, message, token_part1
    return None


def reply(args, ctx, message, digest: str):
    sender = args.email
    login, password = args.user, args.password
    if args.break_ == "other-address":
        sender, login, password = args.other_user, args.other_user, args.other_password
    out = EmailMessage(policy=email.policy.SMTP)
    out["From"] = sender
    out["To"] = message.get("Reply-To") or message["From"]
    out["Subject"] = "Re: " + " ".join(str(message["Subject"]).split())
    out["Date"] = formatdate(localtime=False)
    out["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    if args.break_ != "no-in-reply-to":
        out["In-Reply-To"] = message["Message-ID"]
        out["References"] = message["Message-ID"]
    out.set_content(
        f"-----BEGIN ACME RESPONSE-----\r\n{digest}\r\n-----END ACME RESPONSE-----\r\n",
        cte="7bit",
    )
    with open(f"{args.workdir}/reply.eml", "wb") as saved:
        saved.write(out.as_bytes())
    if args.break_ == "no-dkim":
        # Straight to the outbound relay: no AUTH, so nobody signs it.
        host, port = host_port(args.smtp_url)
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            smtp.send_message(out, from_addr=sender)
        return
    host, port = host_port(args.submission_url)
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(login, password)
        smtp.send_message(out, from_addr=sender)


def csr_for(address: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


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


def main() -> None:
    global DEADLINE_SECS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ["directory", "ca-bundle", "email", "imap-url", "smtp-url", "submission-url",
                 "dns", "user", "password", "workdir"]:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--other-user", default="")
    parser.add_argument("--other-password", default="")
    parser.add_argument("--break", dest="break_", choices=BREAKS, default="none")
    parser.add_argument("--deadline", type=int, default=DEADLINE_SECS,
                        help="seconds to wait for the mail and for each poll")
    args = parser.parse_args()
    DEADLINE_SECS = args.deadline
    if not args.email.isascii():
        print("EAI addresses (SmtpUTF8Mailbox CSRs) are not implemented", file=sys.stderr)
        sys.exit(EXIT_UNIMPLEMENTED)
    ctx = ssl.create_default_context(cafile=args.ca_bundle)
    resolver = resolver_for(args.dns)

    account_key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    # verify_ssl goes to requests' `verify`, which also takes a CA bundle path.
    net = acme_client.ClientNetwork(account_key, alg=jose.ES256, verify_ssl=args.ca_bundle,
                                    user_agent="rfc8823-client/1 python-acme")
    directory = acme_client.ClientV2.get_directory(args.directory, net)
    acme = acme_client.ClientV2(directory, net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))

    # The mailbox first: whatever is in it already is not this order's challenge.
    imap = open_mailbox(args, ctx)
    status, data = imap.uid("SEARCH", None, "ALL")
    seen = set(data[0].split()) if status == "OK" else set()

    identifier = messages.Identifier(typ=messages.IdentifierType("email"), value=args.email)
    response = acme._post(directory["newOrder"], messages.NewOrder(identifiers=[identifier]))
    order_url = response.headers["Location"]
    order = response.json()
    authz = acme._post_as_get(order["authorizations"][0]).json()
    challenge = next((c for c in authz["challenges"] if c["type"] == "email-reply-00"), None)
    if challenge is None:
        print("the CA offers no email-reply-00 challenge", file=sys.stderr)
        sys.exit(EXIT_UNIMPLEMENTED)

    # RFC 8823 leaves it to the CA when the challenge mail goes out: on the order, or only once
    # the challenge is POSTed. Wait a little, then POST to ask for it.
    found = None
    posted = False
    started = time.monotonic()
    while found is None and time.monotonic() < started + DEADLINE_SECS:
        found = find_challenge(imap, challenge["from"], resolver, seen,
                               check_dkim=args.break_ != "no-dkim-check")
        if found is None:
            if not posted and time.monotonic() > started + 3:
                acme._post(challenge["url"], Empty())
                posted = True
            imap.noop()
            time.sleep(0.05)
    if found is None:
        fail(f"no challenge mail from {challenge['from']} in {DEADLINE_SECS} s")
    uid, message, token_part1 = found

    thumbprint = b64url(account_key.public_key().thumbprint(hash_function=hashes.SHA256))
    token = token_part1 + challenge["token"]
    if args.break_ == "wrong-join":
        token = challenge["token"] + token_part1
    digest = b64url(hashlib.sha256(f"{token}.{thumbprint}".encode()).digest())
    reply(args, ctx, message, digest)
    if args.break_ == "reply-twice":
        reply(args, ctx, message, digest)
    imap.uid("STORE", uid, "+FLAGS", r"(\Answered)")
    imap.logout()

    if not posted:
        acme._post(challenge["url"], Empty())
    poll(acme, order["authorizations"][0], lambda a: a.get("status") == "valid", "the authorization")

    acme._post(order["finalize"], messages.CertificateRequest(csr=x509.load_pem_x509_csr(csr_for(args.email))))
    order = poll(acme, order_url, lambda o: o.get("status") == "valid", "the order")
    chain = acme._post_as_get(order["certificate"]).text
    with open(f"{args.workdir}/cert.pem", "w", encoding="ascii") as out:
        out.write(chain)
    print(f"certificate for {args.email} in {args.workdir}/cert.pem")


if __name__ == "__main__":
    main()
