#!/usr/bin/python3
"""The Status service from a client outside C++: Python grpcio (Debian's python3-grpcio) with message
classes that protoc generates from proto/dadmm.proto, and generic method handles (no C++ code, no
grpc_tools). Starts a path of three agents 1 - 2 - 3 without node 3, checks what GetStatus says while
they wait, then starts node 3 and follows node 2 to the end through WatchStatus.

usage: status_client_test.py AGENT_BINARY PROTO_DIR WORK_DIR
"""
import os
import socket
import subprocess
import sys
import time

import grpc


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


def main():
    agent, proto_dir, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={work}", os.path.join(proto_dir, "dadmm.proto")],
                   check=True)
    sys.path.insert(0, work)
    import dadmm_pb2 as pb  # noqa: E402 (generated above)

    ports = free_ports(3)
    topology = os.path.join(work, "path.yaml")
    with open(topology, "w") as f:
        f.write("name: path\nnodes:\n")
        for i, port in enumerate(ports, start=1):
            f.write(f'  - {{id: {i}, address: "127.0.0.1:{port}"}}\n')
        f.write("edges:\n  - [1, 2]\n  - [2, 3]\n")

    def start(node):
        return subprocess.Popen([agent, f"--node_id={node}", "--insecure", f"--topology={topology}", f"--theta={10 * node}",
                                 "--iterations=200", "--linger_seconds=5"],
                                stdout=open(os.path.join(work, f"node-{node}.out"), "w"),
                                stderr=open(os.path.join(work, f"node-{node}.log"), "w"))

    agents = [start(1), start(2)]
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{ports[1]}")
        get_status = channel.unary_unary("/dadmm.v1.Status/GetStatus",
                                         request_serializer=pb.StatusRequest.SerializeToString,
                                         response_deserializer=pb.StatusReply.FromString)
        watch_status = channel.unary_stream("/dadmm.v1.Status/WatchStatus",
                                            request_serializer=pb.WatchRequest.SerializeToString,
                                            response_deserializer=pb.StatusReply.FromString)
        # Node 2 waits for node 3's hello; node 1 is connected and has said hello.
        deadline = time.time() + 20
        while True:
            reply = get_status(pb.StatusRequest(), timeout=10, wait_for_ready=True)
            by_id = {n.node_id: n for n in reply.neighbours}
            if by_id[1].connected or time.time() > deadline:
                break
            time.sleep(0.1)
        check(reply.node_id == 2, "GetStatus answers for node 2")
        check(reply.state == pb.AGENT_STATE_CONNECTING, "node 2 is connecting while node 3 is missing (no hello yet)")
        check("3 (not connected for " in reply.waiting_for, f"it says it waits for node 3: '{reply.waiting_for}'")
        check(by_id[1].connected and not by_id[3].connected, "liveness: node 1 connected, node 3 not")
        check(by_id[1].bootstrap_messages_received >= 1, "node 1's hello was received and counted")
        check(reply.problem == "consensus" and reply.algorithm == "d-admm", "problem and algorithm")
        check(reply.max_iterations == 200 and reply.uptime_seconds > 0, "parameters and uptime")

        stream = watch_status(pb.WatchRequest(interval_seconds=0.05), timeout=60)
        first = next(stream)
        check(first.state == pb.AGENT_STATE_CONNECTING, "WatchStatus streams the current state first")
        agents.append(start(3))
        states, last = set(), first
        for reply in stream:
            states.add(reply.state)
            last = reply
        check(last.state == pb.AGENT_STATE_DONE, "the stream ends with DONE")
        check(last.iteration == 200, f"final iteration 200 (got {last.iteration})")
        check(last.messages_sent == 2 * 200, f"final count: 2 neighbours x 200 steps (got {last.messages_sent})")
        check(len(last.x_head) == 1 and abs(last.x_head[0] - 20.0) < 1e-6,
              f"x_2 is the average 20 (got {list(last.x_head)})")
        check(all(n.last_iteration_heard == 201 for n in last.neighbours),
              "the last estimates heard are labelled 201 (x^201 after 200 steps)")
        for a in agents:
            check(a.wait(timeout=60) == 0, f"agent {a.args[1]} exits 0")
    finally:
        for a in agents:
            if a.poll() is None:
                a.kill()


if __name__ == "__main__":
    main()
