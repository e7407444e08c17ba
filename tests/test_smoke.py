from werkzeug.test import Client

from mockreg import Registry


def test_base_endpoint_answers_with_api_version_header():
    response = Client(Registry()).get("/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
