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
import email.header
import subprocess
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
import dns.query
import dns.resolver
import dns.update
import josepy as jose
from acme import client as acme_client
from acme import messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

BREAKS = ["none", "no-in-reply-to", "wrong-join", "no-dkim", "other-address", "no-dkim-check",
          "reply-twice", "rsa-sha1", "short-h-decoy", "small-key", "wildcard"]
# Conformant ways of writing the reply: RFC 8823 §3.2 allows each, so a CA must accept them.
STYLES = ["plain", "wrapped", "text-around", "quoted-printable", "base64", "encoded-subject",
          "folded-subject", "no-re", "cc"]
# RFC 8823 §3.2 item 9: the header fields a reply's DKIM h= MUST name.
REPLY_MUST_SIGN = ["From", "Sender", "Reply-To", "To", "CC", "Subject", "Date", "In-Reply-To",
                   "References", "Message-ID", "Content-Type", "Content-Transfer-Encoding"]
SELF_SIGNED_BREAKS = {"rsa-sha1", "short-h-decoy", "small-key"}
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
    if args.imap_tls == "implicit":
        host, port = host_port(args.imaps_url)
        imap = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=30)
    else:
        host, port = host_port(args.imap_url)
        imap = imaplib.IMAP4(host, port, timeout=30)
        imap.starttls(ssl_context=ctx)
    imap.login(args.user, args.password)
    imap.select("INBOX")
    return imap


def find_challenge(imap, challenge_from: str, resolver, seen: set, check_dkim: bool = True):
    """The first new message that is a valid challenge (RFC 8823 §3.1)."""
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


def block(digest: str, style: str) -> str:
    """The BEGIN/END block (RFC 8823 §3.2 item 7), in the conformant `style`."""
    if style == "wrapped":
        # "line endings (CRLFs) can be freely inserted in the middle of the encoded digest"
        digest = "\r\n".join(digest[i:i + 10] for i in range(0, len(digest), 10))
    text = f"-----BEGIN ACME RESPONSE-----\r\n{digest}\r\n-----END ACME RESPONSE-----\r\n"
    if style == "text-around":
        text = "Here is my answer:\r\n\r\n" + text + "\r\nRegards,\r\nAlice\r\n"
    return text


def build_reply(args, message, digest: str, sender: str) -> EmailMessage:
    style = args.style
    out = EmailMessage(policy=email.policy.SMTP)
    out["From"] = sender
    out["To"] = message.get("Reply-To") or message["From"]
    subject = " ".join(str(message["Subject"]).split())
    if style != "no-re":
        subject = "Re: " + subject
    out["Subject"] = subject
    if style == "cc":
        # RFC 8823 §3.2 item 4: "The Cc header field is ignored if present".
        out["Cc"] = sender
    out["Date"] = formatdate(localtime=False)
    out["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    if args.break_ != "no-in-reply-to":
        out["In-Reply-To"] = message["Message-ID"]
        out["References"] = message["Message-ID"]
    text = block(digest, style)
    cte = {"quoted-printable": "quoted-printable", "base64": "base64"}.get(style, "7bit")
    if args.reply_body == "multipart-alternative":
        out.set_content(text, cte=cte)
        out.add_alternative(f"<html><body><pre>{text}</pre></body></html>", subtype="html")
    else:
        out.set_content(text, cte=cte)
    return out


def restyle_subject(raw: bytes, style: str) -> bytes:
    """The Subject as `style` writes it, on the wire (the email package would undo both)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        if not line.lower().startswith(b"subject:"):
            continue
        value = line[len(b"subject:"):].strip().decode()
        if style == "encoded-subject":
            # RFC 8823 §3.2 item 1: servers "MUST decode [RFC2231] encoding (if any)".
            value = email.header.Header(value, "utf-8").encode()
        elif style == "folded-subject":
            # Folding white space before token-part1 (RFC 5322 FWS; RFC 8823 §3.1 item 1).
            label, token = value.split("ACME:", 1)
            value = f"{label}ACME:\r\n {token.strip()}"
        lines[i] = b"Subject: " + value.encode()
    return b"\r\n".join(lines) + sep + body


def publish_dkim_key(args, selector: str, domain: str, public_der: bytes) -> None:
    """The DKIM key record, published as a mail domain's operator would: an RFC 2136 UPDATE
    to the domain's DNS server (the world's accepts unsigned updates)."""
    record = "v=DKIM1; k=rsa; p=" + base64.b64encode(public_der).decode()
    chunks = " ".join(f'"{record[i:i + 200]}"' for i in range(0, len(record), 200))
    update = dns.update.Update(domain)
    update.replace(f"{selector}._domainkey", 60, "TXT", chunks)
    host, port = args.dns.rsplit(":", 1)
    answer = dns.query.tcp(update, host, port=int(port), timeout=10)
    if answer.rcode() != 0:
        fail(f"DNS UPDATE of {selector}._domainkey.{domain} refused: rcode {answer.rcode()}")


def rsa_key(bits: int) -> bytes:
    """A PKCS#1 PEM RSA key of `bits`. `cryptography` refuses keys under 1024 bits, which the
    small-key break needs, so openssl makes those."""
    if bits < 1024:
        return subprocess.run(["openssl", "genrsa", "-traditional", str(bits)],
                              check=True, capture_output=True).stdout
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def public_der(pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a PEM private key (RFC 6376 §3.6.1 `p=`)."""
    return subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=pem,
                          check=True, capture_output=True).stdout


def self_sign(args, raw: bytes, domain: str) -> bytes:
    """Signs the reply itself, as a broken MUA would, with a key it publishes in DNS."""
    must = [h.encode() for h in REPLY_MUST_SIGN]
    if args.break_ == "rsa-sha1":
        # RFC 8301 §3.1: rsa-sha1 "MUST NOT be used for signing or verifying".
        pem = rsa_key(2048)
        publish_dkim_key(args, "sha1", domain, public_der(pem))
        return dkim.sign(raw, b"sha1", domain.encode(), pem, include_headers=must,
                         signature_algorithm=b"rsa-sha1") + raw
    if args.break_ == "small-key":
        # RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits".
        pem = rsa_key(768)
        publish_dkim_key(args, "small", domain, public_der(pem))
        return dkim.sign(raw, b"small", domain.encode(), pem, include_headers=must) + raw
    # short-h-decoy: a signature that verifies over From/To/Subject only (RFC 8823 §3.2 item
    # 9 wants the whole list), under a full-h= signature whose key is nowhere in DNS.
    pem = rsa_key(2048)
    publish_dkim_key(args, "short", domain, public_der(pem))
    short = dkim.sign(raw, b"short", domain.encode(), pem,
                      include_headers=[b"From", b"To", b"Subject"]) + raw
    decoy = rsa_key(2048)
    return dkim.sign(short, b"decoy", domain.encode(), decoy, include_headers=must) + short


def reply(args, ctx, message, digest: str):
    sender = args.email
    login, password = args.user, args.password
    if args.break_ == "other-address":
        sender, login, password = args.other_user, args.other_user, args.other_password
    out = build_reply(args, message, digest, sender)
    raw = restyle_subject(out.as_bytes(), args.style)
    with open(f"{args.workdir}/reply.eml", "wb") as saved:
        saved.write(raw)
    to = parseaddr(str(out["To"]))[1]
    if args.break_ == "no-dkim" or args.break_ in SELF_SIGNED_BREAKS:
        # Straight to the outbound relay: no AUTH, so nobody signs it but the client itself.
        if args.break_ in SELF_SIGNED_BREAKS:
            raw = self_sign(args, raw, sender.rsplit("@", 1)[1].lower())
        host, port = host_port(args.smtp_url)
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            smtp.sendmail(sender, [to], raw)
        return
    host, port = host_port(args.submission_url)
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(login, password)
        smtp.sendmail(sender, [to], raw)


def csr_for(address: str, usage: str) -> bytes:
    """A CSR for `address` asking for `usage` (RFC 8823 §3.3): signing-only is digitalSignature,
    encryption-only keyAgreement (an EC key), both is no keyUsage extension at all."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
    )
    if usage != "both":
        signing = usage == "signing"
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=signing,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=not signing,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
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
    parser.add_argument("--usage", choices=["both", "signing", "encryption"], default="both")
    parser.add_argument("--reply-body", choices=["text-plain", "multipart-alternative"],
                        default="text-plain")
    parser.add_argument("--imap-tls", choices=["starttls", "implicit"], default="starttls")
    parser.add_argument("--imaps-url", default="")
    parser.add_argument("--post", choices=["after-reply", "before-reply"], default="after-reply")
    parser.add_argument("--mail-on", choices=["authorization", "challenge-post"],
                        default="authorization")
    parser.add_argument("--style", choices=STYLES, default="plain")
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

    value = args.email
    if args.break_ == "wildcard":
        # RFC 8823 §3: an email identifier "MUST NOT have a wildcard ("*") character".
        value = "*@" + args.email.rsplit("@", 1)[1]
    identifier = messages.Identifier(typ=messages.IdentifierType("email"), value=value)
    try:
        response = acme._post(directory["newOrder"], messages.NewOrder(identifiers=[identifier]))
    except Exception as e:  # noqa: BLE001 - the CA's refusal is the client's failure
        fail(f"newOrder for {value} refused: {e}")
    order_url = response.headers["Location"]
    order = response.json()
    authz = acme._post_as_get(order["authorizations"][0]).json()
    challenge = next((c for c in authz["challenges"] if c["type"] == "email-reply-00"), None)
    if challenge is None:
        print("the CA offers no email-reply-00 challenge", file=sys.stderr)
        sys.exit(EXIT_UNIMPLEMENTED)

    # RFC 8823 leaves it to the CA when the challenge mail goes out: on the order, or only once
    # the challenge is POSTed. Told (--mail-on), POST at once; otherwise wait a little, then POST
    # to ask for it.
    found = None
    posted = False
    if args.mail_on == "challenge-post":
        acme._post(challenge["url"], Empty())
        posted = True
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
    if args.post == "before-reply" and not posted:
        acme._post(challenge["url"], Empty())
        posted = True
    reply(args, ctx, message, digest)
    if args.break_ == "reply-twice":
        reply(args, ctx, message, digest)
    imap.uid("STORE", uid, "+FLAGS", r"(\Answered)")
    imap.logout()

    if not posted:
        acme._post(challenge["url"], Empty())
    poll(acme, order["authorizations"][0], lambda a: a.get("status") == "valid", "the authorization")

    acme._post(order["finalize"], messages.CertificateRequest(csr=x509.load_pem_x509_csr(csr_for(args.email, args.usage))))
    order = poll(acme, order_url, lambda o: o.get("status") == "valid", "the order")
    chain = acme._post_as_get(order["certificate"]).text
    with open(f"{args.workdir}/cert.pem", "w", encoding="ascii") as out:
        out.write(chain)
    print(f"certificate for {args.email} in {args.workdir}/cert.pem")


if __name__ == "__main__":
    main()
