"""The fixtures under pytest-xdist: one live server per worker, no shared state between tests."""

pytest_plugins = ["pytester"]


def test_two_workers_each_serve_their_own_tests(pytester, tmp_path):
    ports_dir = tmp_path / "ports"
    ports_dir.mkdir()
    pytester.makepyfile(f"""
        import os
        import pytest
        import requests
        from mockreg.content import push_image

        @pytest.mark.parametrize("number", range(12))
        def test_isolated(mockreg_server, mockreg_requests, number):
            assert mockreg_server.registry.repositories() == []
            push_image(mockreg_server.registry, f"demo/app{{number}}:1.0")
            listing = requests.get(mockreg_server.url + "/v2/_catalog").json()
            assert listing == {{"repositories": [f"demo/app{{number}}"]}}
            assert requests.get(mockreg_requests.url + "/v2/_catalog").json() == listing
            worker = os.environ["PYTEST_XDIST_WORKER"]
            with open(os.path.join({str(ports_dir)!r}, worker), "a") as record:
                record.write(mockreg_server.host_port + "\\n")
    """)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:hypothesispytest", "-p", "no:randomly")
    result.assert_outcomes(passed=12)
    ports = {path.name: set(path.read_text().split()) for path in ports_dir.iterdir()}
    assert sorted(ports) == ["gw0", "gw1"]
    assert all(len(addresses) == 1 for addresses in ports.values()), ports  # one server per worker
    assert ports["gw0"] != ports["gw1"]
