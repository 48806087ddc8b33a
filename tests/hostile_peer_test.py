#!/usr/bin/python3
"""Agents on a network they do not own, attacked from Python grpcio as a stranger would.

A path 1 - 2 - 3 with mutual TLS (certificates from deploy/make-certs.sh). Node 1 starts alone; while it
waits for node 2, this test connects to it:
  - with no certificate, with a certificate of another CA, with node 2's certificate expired, with
    node 3's valid certificate claiming to be node 2, and with node 2's valid certificate but no hello:
    each stream is refused with a status naming the reason, and node 1 logs each once;
  - in plaintext: the connection fails;
  - Status without a certificate is refused, with the monitor's certificate answered;
  - a hundred streams at once, and a flood of Status calls: refused or paced, nothing breaks.
Then nodes 2 and 3 start, the run completes, every agent exits 0, and dadmm-ctl report finds the
result bit-identical to the simulator's. Then a fresh node 1 is attacked on a stream authenticated as
node 2 (its key stolen): repeated hellos, wrong dimensions, NaN and Inf, an iteration far ahead and an
oversized message are refused, counted, logged once per kind, and node 1 keeps serving.
Last, node 1's CA, certificate and key are replaced while it runs: it presents the new certificate
and accepts clients of both CAs, without a restart.

usage: hostile_peer_test.py BUILD_DIR PROTO_DIR WORK_DIR
"""
import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import time

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    build, proto_dir, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={work}", os.path.join(proto_dir, "dadmm.proto")],
                   check=True)
    sys.path.insert(0, work)
    import dadmm_pb2 as pb  # noqa: E402 (generated above)

    agent = os.path.join(build, "agent", "dadmm-agent")
    ctl = os.path.join(build, "agent", "dadmm-ctl")
    ports = free_ports(3)
    topology = os.path.join(work, "path.yaml")
    with open(topology, "w") as f:
        f.write("name: hostile\nnodes:\n")
        for i, port in enumerate(ports, start=1):
            f.write(f'  - {{id: {i}, address: "127.0.0.1:{port}"}}\n')
        f.write("edges:\n  - [1, 2]\n  - [2, 3]\n")
    data = os.path.join(work, "data")
    subprocess.run([os.path.join(build, "tools", "dadmm-sim"), f"--topology={topology}", "--problem=consensus",
                    "--seed=4", f"--write_data={data}"], check=True, stdout=subprocess.DEVNULL)
    certs = os.path.join(work, "certs")
    make_certs = os.path.join(ROOT, "deploy", "make-certs.sh")
    subprocess.run([make_certs, topology, certs, "--ctl-bin", ctl], check=True, stdout=subprocess.DEVNULL)
    other = os.path.join(work, "other-ca")  # a second CA, same network name
    subprocess.run([make_certs, topology, other, "--ctl-bin", ctl], check=True, stdout=subprocess.DEVNULL)
    expired = os.path.join(work, "expired")  # node 2's certificate from the right CA, expired
    os.makedirs(expired)
    shutil.copy(os.path.join(certs, "ca.pem"), expired)
    shutil.copy(os.path.join(certs, "ca.key"), expired)
    subprocess.run([make_certs, topology, expired, "--ctl-bin", ctl, "--days", "0", "--nodes", "2"], check=True,
                   stdout=subprocess.DEVNULL)
    time.sleep(1.1)  # notAfter is the second it was made

    flags = ["--problem=consensus", "--iterations=300", "--tolerance=0", "--linger_seconds=10"]

    def start(node, extra=(), tag="", tls=None):
        ca, cert, key = tls or (os.path.join(certs, "ca.pem"), os.path.join(certs, f"node-{node}", "cert.pem"),
                                os.path.join(certs, f"node-{node}", "key.pem"))
        return subprocess.Popen([agent, f"--node_id={node}", f"--topology={topology}",
                                 f"--data={os.path.join(data, f'node-{node}.csv')}", *flags, f"--tls_ca={ca}",
                                 f"--tls_cert={cert}", f"--tls_key={key}",
                                 f"--output={os.path.join(work, f'node-{node}{tag}.json')}", *extra],
                                stdout=open(os.path.join(work, f"node-{node}{tag}.out"), "w"),
                                stderr=open(os.path.join(work, f"node-{node}{tag}.log"), "w"))

    def hello_of(node):
        out = subprocess.run([agent, f"--node_id={node}", f"--topology={topology}",
                              f"--data={os.path.join(data, f'node-{node}.csv')}", *flags, "--print_hello"],
                             check=True, capture_output=True, text=True).stdout.strip()
        return bytes.fromhex(out)

    def credentials(ca_dir, who):
        key = None if who is None else read(os.path.join(ca_dir, who, "key.pem"))
        cert = None if who is None else read(os.path.join(ca_dir, who, "cert.pem"))
        # The client does not verify the server here (the attacker's side): trust whatever CA it used.
        return grpc.ssl_channel_credentials(root_certificates=read(os.path.join(certs, "ca.pem")), private_key=key,
                                            certificate_chain=cert)

    options = [("grpc.ssl_target_name_override", "dadmm")]
    address = f"127.0.0.1:{ports[0]}"

    def exchange(creds, hello=None, messages=()):
        channel = grpc.secure_channel(address, creds, options=options)
        call = channel.stream_unary("/dadmm.v1.Peer/Exchange", request_serializer=pb.PeerMessage.SerializeToString,
                                    response_deserializer=pb.ExchangeSummary.FromString)
        metadata = [] if hello is None else [("dadmm-hello-bin", hello)]
        try:
            call(iter(messages), metadata=metadata, timeout=10, wait_for_ready=True)
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details()
        finally:
            channel.close()

    def estimate(sender, iteration, x, sequence=1):
        m = pb.PeerMessage(sequence=sequence, process=4242)
        m.estimate.sender = sender
        m.estimate.iteration = iteration
        m.estimate.x.extend(x)
        return m

    one = start(1)
    log1 = os.path.join(work, "node-1.log")
    try:
        hello2 = hello_of(2)
        hello3 = hello_of(3)
        bad = [estimate(2, 2, [7.9e5])]  # what the attack of the issue sent: estimates with no hello

        code, details = exchange(credentials(certs, None), hello2, bad)
        check(code == grpc.StatusCode.UNAUTHENTICATED and "presented no certificate" in details,
              f"no certificate: refused ({code}, {details})")
        code, details = exchange(credentials(other, "node-2"), hello2, bad)
        check(code == grpc.StatusCode.UNAUTHENTICATED and "not from this network's CA" in details,
              f"another CA: refused ({code}, {details})")
        code, details = exchange(credentials(expired, "node-2"), hello2, bad)
        check(code == grpc.StatusCode.UNAUTHENTICATED and "expired" in details,
              f"expired: refused ({code}, {details})")
        code, details = exchange(credentials(certs, "node-3"), hello2, bad)
        check(code == grpc.StatusCode.PERMISSION_DENIED and "dadmm://hostile/node/3" in details
              and "says it is node 2" in details, f"node 3 claiming node 2: refused ({code}, {details})")
        code, details = exchange(credentials(certs, "node-3"), hello3, bad)
        check(code == grpc.StatusCode.PERMISSION_DENIED and "not a neighbour" in details,
              f"node 3 as itself, not node 1's neighbour: refused ({code}, {details})")
        code, details = exchange(credentials(certs, "node-2"), None, bad)
        check(code == grpc.StatusCode.PERMISSION_DENIED and "without a readable hello" in details,
              f"node 2's certificate, no hello: refused ({code}, {details})")
        code, details = exchange(credentials(certs, "node-2"), b"\xff\x00garbage", bad)
        check(code == grpc.StatusCode.PERMISSION_DENIED, f"an unreadable hello: refused ({code})")
        channel = grpc.insecure_channel(address)
        plain = channel.stream_unary("/dadmm.v1.Peer/Exchange", request_serializer=pb.PeerMessage.SerializeToString,
                                     response_deserializer=pb.ExchangeSummary.FromString)
        try:
            plain(iter(bad), metadata=[("dadmm-hello-bin", hello2)], timeout=3)
            check(False, "plaintext is refused")
        except grpc.RpcError as e:
            check(e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED),
                  f"plaintext: no connection ({e.code()})")
        channel.close()

        def get_status(creds, timeout=10):
            channel = grpc.secure_channel(address, creds, options=options)
            call = channel.unary_unary("/dadmm.v1.Status/GetStatus",
                                       request_serializer=pb.StatusRequest.SerializeToString,
                                       response_deserializer=pb.StatusReply.FromString)
            try:
                return call(pb.StatusRequest(), timeout=timeout, wait_for_ready=True), None
            except grpc.RpcError as e:
                return None, e
            finally:
                channel.close()

        reply, error = get_status(credentials(certs, None))
        check(error is not None and error.code() == grpc.StatusCode.UNAUTHENTICATED,
              "Status without a certificate is refused")
        reply, error = get_status(credentials(certs, "ctl"))
        check(error is None and reply.node_id == 1, "Status with the monitor's certificate is answered")
        check(reply.state == pb.AGENT_STATE_CONNECTING and reply.messages_received == 0,
              f"nothing the attacker sent counted (state {reply.state}, received {reply.messages_received})")
        check(reply.rejected_messages >= 8, f"each refusal counted ({reply.rejected_messages})")

        # Many streams at once, with node 2's valid certificate and hello: at most one is live, the
        # others refused (a second stream, or beyond the limit); each is closed here.
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            codes = list(pool.map(lambda _: exchange(credentials(certs, "node-3"), hello2, bad)[0], range(100)))
        check(all(c == grpc.StatusCode.PERMISSION_DENIED for c in codes), "100 concurrent impostor streams refused")

        streams = [line for line in open(log1) if "refused a stream" in line]
        for phrase in ["presented no certificate", "not from this network's CA", "has expired",
                       "says it is node 2", "not a neighbour", "without a readable hello"]:
            n = sum(phrase in line for line in streams)
            check(n == 1, f"node 1 logged the stream refusal '{phrase}' once ({n} times)")
        check(one.poll() is None, "node 1 is still running")

        # The real nodes: the run is what the simulator computes, bit for bit.
        two, three = start(2), start(3, ["--hold_seconds=5"])
        for name, p in [("1", one), ("2", two)]:
            check(p.wait(timeout=120) == 0, f"node {name} exits 0")
        results = os.path.join(work, "results")
        os.makedirs(results)
        deadline = time.time() + 60
        while not os.path.exists(os.path.join(work, "node-3.json")) and time.time() < deadline:
            time.sleep(0.2)
        for node in (1, 2, 3):
            shutil.copy(os.path.join(work, f"node-{node}.json"), results)
        report = subprocess.run([ctl, "report", topology, f"--results={results}", f"--data_dir={data}"],
                                capture_output=True, text=True)
        print(report.stdout)
        check(report.returncode == 0 and "bit-identical to simulator: yes, every node" in report.stdout,
              "after the attacks the run is bit-identical to the simulator's")

        three.terminate()
        three.wait(timeout=20)

        # A holder of node 2's valid key is node 2 as far as TLS can tell; what it sends is still data.
        # A fresh node 1, attacked on an authenticated stream with node 2's own hello: a repeated
        # hello, estimates of the wrong dimension, NaN, Inf, an iteration far ahead, a message over the
        # size limit. Each is refused and counted, each kind logged once, and node 1 keeps serving.
        rotating = os.path.join(work, "rotating")  # node 1's files, replaced while it runs
        os.makedirs(rotating)
        tls1 = tuple(os.path.join(rotating, f) for f in ("ca.pem", "cert.pem", "key.pem"))
        for source, target in zip([os.path.join(certs, "ca.pem"), os.path.join(certs, "node-1", "cert.pem"),
                                   os.path.join(certs, "node-1", "key.pem")], tls1):
            shutil.copy(source, target)
        one = start(1, tag="-b", tls=tls1)
        log1 = os.path.join(work, "node-1-b.log")
        reply, error = get_status(credentials(certs, "ctl"))
        check(error is None and reply.rejected_messages == 0, "a fresh node 1 answers Status")
        greeting = pb.PeerMessage(sequence=1, process=4242)
        greeting.hello.CopyFrom(pb.Hello.FromString(hello2))
        again = pb.PeerMessage(sequence=2, process=4242)
        again.hello.CopyFrom(pb.Hello.FromString(hello2))
        nan, inf = float("nan"), float("inf")
        hostile = [greeting, again, estimate(2, 2, [1.0, 2.0, 3.0], 3), estimate(2, 2, [nan], 4),
                   estimate(2, 2, [inf], 5), estimate(2, 2, [-inf], 6), estimate(2, 1 << 60, [1.0], 7)]
        code, details = exchange(credentials(certs, "node-2"), hello2, hostile)
        check(code == grpc.StatusCode.OK, f"the authenticated stream ends normally ({code}, {details})")
        code, details = exchange(credentials(certs, "node-2"), hello2, [estimate(2, 2, [0.5] * 200000, 8)])
        check(code == grpc.StatusCode.RESOURCE_EXHAUSTED, f"1.6 MB where 64 KiB is the limit: refused ({code})")
        reply, error = get_status(credentials(certs, "ctl"))
        check(error is None and reply.rejected_messages == 6,
              f"six messages refused and counted ({None if reply is None else reply.rejected_messages})")
        check(reply.state == pb.AGENT_STATE_COLOURING, "node 1 has node 2's hello and waits in the colouring")
        lines = [line for line in open(log1) if "rejected a message from node 2" in line]
        for phrase in ["a second hello", "dimension 3, expected 1", "non-finite entries", "out of sequence"]:
            n = sum(phrase in line for line in lines)
            check(n == 1, f"node 1 logged '{phrase}' once ({n} times)")
        check(one.poll() is None, "node 1 is still running")

        # Rotation without a restart: node 1 is given a bundle of the old and a new CA, and a new
        # certificate and key from the new CA (each file replaced by a rename, as a deployment tool
        # would). Within the watcher's refresh (1 s) it presents the new certificate and accepts
        # clients of either CA.
        def only_new_ca(who):
            return grpc.ssl_channel_credentials(root_certificates=read(os.path.join(other, "ca.pem")),
                                                private_key=read(os.path.join(other, who, "key.pem")),
                                                certificate_chain=read(os.path.join(other, who, "cert.pem")))

        reply, error = get_status(only_new_ca("ctl"), timeout=3)
        check(error is not None, f"before rotation, a client that trusts only the new CA gets no answer "
                                 f"({None if error is None else error.code()})")
        bundle = read(os.path.join(certs, "ca.pem")) + read(os.path.join(other, "ca.pem"))
        for target, content in zip(tls1, [bundle, read(os.path.join(other, "node-1", "cert.pem")),
                                          read(os.path.join(other, "node-1", "key.pem"))]):
            with open(target + ".new", "wb") as f:
                f.write(content)
            os.rename(target + ".new", target)
        deadline = time.time() + 15
        while True:
            reply, error = get_status(only_new_ca("ctl"), timeout=3)
            if error is None or time.time() > deadline:
                break
        check(error is None and reply.node_id == 1, "after rotation, node 1 presents the new CA's certificate")
        old_monitor = grpc.ssl_channel_credentials(root_certificates=bundle,
                                                   private_key=read(os.path.join(certs, "ctl", "key.pem")),
                                                   certificate_chain=read(os.path.join(certs, "ctl", "cert.pem")))
        reply, error = get_status(old_monitor)
        check(error is None, "and still answers a monitor with a certificate of the old CA (trusting both)")
        code, details = exchange(only_new_ca("node-2"), hello2, [])
        check(code == grpc.StatusCode.ALREADY_EXISTS or code == grpc.StatusCode.OK,
              f"node 2 with a certificate of the new CA passes the TLS checks ({code}, {details})")
        check(one.poll() is None, "node 1 is still running, the same process")
        one.terminate()
        check(one.wait(timeout=20) is not None, "node 1 stops on SIGTERM")
    finally:
        for p in [one]:
            if p.poll() is None:
                p.kill()
    print("hostile_peer_test: all checks passed")


if __name__ == "__main__":
    main()
