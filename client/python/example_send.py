#!/usr/bin/python3
"""Sends one message through a local trustfabric cluster, step by step.

    PYTHONPATH=build/python:client/python /usr/bin/python3 client/python/example_send.py \\
        --dir CLUSTER_DIR --from alice@contoso.test --to bob@fabrikam.test "hello"

CLUSTER_DIR is a directory of `tfctl cluster up`. The script mints a
user+app token for the sender with an application of the sender's domain
(PyJWT, or `tfctl token mint` with --tfctl), signs in at the sender's
front-end and sends. With --receive it first signs the recipient in at the
recipient's front-end and waits for the message to arrive there.

Exit status: 0 when sent (and, with --receive, received), 1 when a call is
refused (the gRPC status is printed), 2 for bad arguments.
"""

import argparse
import datetime
import queue
import sys

import grpc
import jwt

import trustfabric_client as tfc


def describe(error):
    return f"{error.code().name}: {error.details()}"


def when(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


def mint(cluster, user, app, tfctl):
    domain = user.split("@", 1)[1]
    d = cluster.domain(domain)
    host = d["frontend"]["server_name"]
    if tfctl:
        a = next(x for x in d["apps"] if x["name"] == app)
        token = tfc.mint_with_tfctl(tfctl, a["key"], a["cert"], a["issuer_id"], d["realm"], host,
                                    user, client_id=a["client_id"])
        how = "tfctl token mint"
    else:
        token = cluster.user_token(user, app=app)
        how = "PyJWT"
    outer = jwt.decode(token, options={"verify_signature": False})
    outer_alg = jwt.get_unverified_header(token)["alg"]
    actor = jwt.get_unverified_header(outer["actortoken"])
    print(f"minted a user+app token for {user} with {how}: application {app} "
          f"({outer['iss']}), outer token {outer_alg}, actor signed {actor['alg']}, "
          f"audience {outer['aud']}, "
          f"expires {when(outer['exp'])}")
    return token


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, help="cluster directory (tfctl cluster up)")
    parser.add_argument("--from", dest="sender", required=True, help="e.g. alice@contoso.test")
    parser.add_argument("--to", required=True, help="e.g. bob@fabrikam.test")
    parser.add_argument("--app", default="app1", help="application that signs the token")
    parser.add_argument("--tfctl", help="mint with this tfctl binary instead of PyJWT")
    parser.add_argument("--receive", action="store_true",
                        help="sign the recipient in first and wait for the message")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per step")
    parser.add_argument("body", help="message text")
    args = parser.parse_args()

    try:
        cluster = tfc.ClusterDir(args.dir)
    except (OSError, ValueError) as e:
        print(f"example_send: {e}", file=sys.stderr)
        return 2
    for user in (args.sender, args.to):
        if "@" not in user or user.split("@", 1)[1] not in cluster.domains:
            print(f"example_send: {user} is not a user of {', '.join(cluster.domains)}",
                  file=sys.stderr)
            return 2

    recipient = None
    stream = None
    try:
        if args.receive:
            recipient = cluster.frontend(args.to, mint(cluster, args.to, args.app, args.tfctl),
                                         timeout=args.timeout)
            r = recipient.sign_in()
            to_fe = cluster.domain(args.to.split("@", 1)[1])["frontend"]
            print(f"{r.user} signed in at {to_fe['server_name']} ({to_fe['address']})")
            stream = recipient.receive()
            print(f"{args.to} is receiving")

        token = mint(cluster, args.sender, args.app, args.tfctl)
        fe = cluster.domain(args.sender.split("@", 1)[1])["frontend"]
        with cluster.frontend(args.sender, token, timeout=args.timeout) as client:
            try:
                r = client.sign_in()
            except grpc.RpcError as e:
                print(f"sign-in at {fe['server_name']} ({fe['address']}) refused: {describe(e)}")
                return 1
            print(f"{r.user} signed in at {fe['server_name']} ({fe['address']}), token valid "
                  f"until {when(r.token_expires_at.seconds)}")
            try:
                sent = client.send(args.to, args.body)
            except grpc.RpcError as e:
                print(f"send to {args.to} refused: {describe(e)}")
                return 1
            print(f"sent message {sent.message_id} to {args.to}: {sent.disposition}")

        if stream is not None:
            try:
                m = stream.get(timeout=args.timeout)
            except queue.Empty:
                print(f"{args.to} received nothing within {args.timeout:g} s")
                return 1
            except grpc.RpcError as e:
                print(f"receive stream of {args.to} ended: {describe(e)}")
                return 1
            print(f"{m.to} received message {m.id} from {getattr(m, 'from')}: {m.body!r}")
        return 0
    finally:
        if recipient is not None:
            recipient.close()


if __name__ == "__main__":
    sys.exit(main())
