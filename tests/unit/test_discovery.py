"""Finding the server: each rule of client/discovery.py with plain data."""

import pytest

from jupyter_resumechat.client import find_server
from jupyter_resumechat.errors import DiscoveryError

SERVERS = [
    {"pid": 111, "url": "http://localhost:8888/", "token": "t1"},
    {"pid": 222, "url": "http://0.0.0.0:8889/lab-base/", "token": "t2"},
]


def test_exported_variables_win() -> None:
    env = {
        "JUPYTER_RESUMECHAT_URL": "http://127.0.0.1:9999/base",
        "JUPYTER_RESUMECHAT_TOKEN": "x",
        "JPY_PARENT_PID": "111",
    }
    info = find_server(env, SERVERS)
    assert (info.url, info.token, info.api) == (
        "http://127.0.0.1:9999/base/",
        "x",
        "http://127.0.0.1:9999/base/resumechat/api/",
    )


def test_parent_pid_picks_its_server() -> None:
    info = find_server({"JPY_PARENT_PID": "222"}, SERVERS)
    assert (info.url, info.token) == ("http://127.0.0.1:8889/lab-base/", "t2")
    assert info.source == "jpserver-222.json"


def test_jupyterhub_token_when_the_server_file_has_none() -> None:
    servers = [{"pid": 5, "url": "http://127.0.0.1:40000/user/ada/", "token": ""}]
    env = {"JPY_PARENT_PID": "5", "JUPYTERHUB_API_TOKEN": "hub"}
    assert find_server(env, servers).token == "hub"


def test_jupyterhub_variables() -> None:
    env = {"JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8888/user/ada", "JUPYTERHUB_API_TOKEN": "hub"}
    info = find_server(env, SERVERS)
    assert (info.url, info.token, info.source) == ("http://127.0.0.1:8888/user/ada/", "hub", "JupyterHub")


def test_the_only_running_server() -> None:
    assert find_server({}, SERVERS[:1]).url == "http://localhost:8888/"


@pytest.mark.parametrize("servers", [[], SERVERS])
def test_nothing_found_says_what_to_set(servers) -> None:
    with pytest.raises(DiscoveryError, match="JUPYTER_RESUMECHAT_URL"):
        find_server({"JPY_PARENT_PID": "999"}, servers)
