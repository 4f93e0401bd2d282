"""The simulator's HTTP/1.1 server keeps connections open as Google's front ends do, and lets go of them on stop."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

import google_clients


def _connection(simulator) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(simulator.host, simulator.port, timeout=10)


def test_requests_on_one_connection_are_all_answered_on_it(simulator):
    connection = _connection(simulator)
    answers, sockets = [], []
    for _ in range(3):
        connection.request("GET", "/oauth2/v1/certs")
        response = connection.getresponse()
        answers.append((response.status, response.getheader("Connection")))
        response.read()
        sockets.append(connection.sock)

    assert answers == [(200, None)] * 3  # HTTP/1.1: kept open without saying so
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3  # http.client opens a new socket after a close
    connection.close()


def test_a_client_asking_to_close_gets_its_answer_then_the_connection_closes(simulator):
    connection = _connection(simulator)
    connection.request("GET", "/oauth2/v1/certs", headers={"Connection": "close"})
    response = connection.getresponse()
    response.read()

    assert response.status == 200
    assert response.getheader("Connection") == "close"
    assert connection.sock is None  # http.client closed its side on the server's word


def test_a_chunked_body_is_read_whole_and_the_next_request_starts_clean(simulator):
    connection = _connection(simulator)
    connection.request("POST", "/token", body=iter([b"grant_type=", b"password"]),
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, encode_chunked=True)
    refused = connection.getresponse()
    refused_body = json.loads(refused.read())
    connection.request("GET", "/oauth2/v1/certs")
    after = connection.getresponse()
    after.read()

    assert (refused.status, refused_body["error"]) == (400, "unsupported_grant_type")  # the body reached the app
    assert after.status == 200


def test_a_malformed_header_line_is_a_bad_request(simulator):
    with socket.create_connection((simulator.host, simulator.port), timeout=10) as sock:
        sock.sendall(b"GET /oauth2/v1/certs HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
        status_line = sock.makefile("rb").readline()

    assert status_line.startswith(b"HTTP/1.1 400")


def test_stopping_the_simulator_closes_the_connections_clients_keep(simulator):
    kept = _connection(simulator)
    kept.request("GET", "/oauth2/v1/certs")
    kept.getresponse().read()

    def ask_again(connection):
        connection.request("GET", "/oauth2/v1/certs")
        return connection.getresponse()

    simulator.stop()

    with pytest.raises((http.client.HTTPException, ConnectionError)):  # not answered by a stopped simulator
        ask_again(kept)
    with pytest.raises(ConnectionRefusedError):  # and nothing listens any more
        ask_again(_connection(simulator))
    kept.close()


def test_google_clients_send_their_token_request_and_calls_over_one_connection(simulator, key_file, rep):
    accepted = simulator._server.accepted
    credentials = google_clients.delegated_credentials(key_file, rep, google_clients.GMAIL_SCOPES)
    gmail = google_clients.build_service("gmail", "v1", credentials, simulator.url)

    for _ in range(3):
        gmail.users().getProfile(userId="me").execute()

    assert simulator.oauth.tokens_issued == 1
    assert simulator._server.accepted - accepted == 1  # the token request and three calls: one TCP connection
