#!/usr/bin/env python3
"""certbot's ACME library (acme + josepy) with a P-521 account key (JWS alg ES512, RFC 7518
§3.4) against an RFC 8555 CA: newAccount, newOrder, dns-01 published through the world's
management API (POST /dns/records), finalize, download.

certbot itself always makes RSA account keys; its library signs with any JWK, so this is the
certbot code path for an ES512 account.

usage: acme_p521_client.py DIRECTORY_URL CA_BUNDLE MANAGEMENT_URL DOMAIN
prints one JSON line: {"account": url, "alg": "ES512", "crv": ..., "fullchain": pem}
"""
import json
import sys

import josepy as jose
import requests
from acme import client, crypto_util, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

directory_url, bundle, management, domain = sys.argv[1:5]

key = jose.JWKEC(key=ec.generate_private_key(ec.SECP521R1()))
net = client.ClientNetwork(key, alg=jose.ES512, user_agent="acmeproof-p521-test",
                           verify_ssl=bundle)
acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
regr = acme.new_account(messages.NewRegistration.from_data(
    email="p521@example.test", terms_of_service_agreed=True))

cert_key = ec.generate_private_key(ec.SECP256R1())
cert_key_pem = cert_key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
order = acme.new_order(crypto_util.make_csr(cert_key_pem, [domain]))
for authz in order.authorizations:
    challb = next(c for c in authz.body.challenges if c.chall.typ == "dns-01")
    response, validation = challb.response_and_validation(key)
    name = challb.chall.validation_domain_name(authz.body.identifier.value)
    r = requests.post(f"{management}/dns/records", timeout=10,
                      json={"name": name, "type": "TXT", "value": validation})
    r.raise_for_status()
    acme.answer_challenge(challb, response)
order = acme.poll_and_finalize(order)
print(json.dumps({
    "account": regr.uri,
    "alg": "ES512",
    "crv": key.fields_to_partial_json()["crv"],
    "fullchain": order.fullchain_pem,
}))
