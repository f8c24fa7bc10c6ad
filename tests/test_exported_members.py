"""The public surface: what ``import jupyter_resumechat`` offers."""

import jupyter_resumechat


def test_all_names_exist() -> None:
    for name in jupyter_resumechat.__all__:
        assert hasattr(jupyter_resumechat, name), name


def test_server_extension_point() -> None:
    points = jupyter_resumechat._jupyter_server_extension_points()
    assert points[0]["module"] == "jupyter_resumechat"
    assert points[0]["app"].name == "jupyter_resumechat"


def test_traits_of_design_section_5() -> None:
    from jupyter_resumechat.app import ResumeChat

    defaults = {"provider": "auto", "stream_backend": "memory", "stream_ttl": 300.0,
                "replay_window": 10000, "checkpoint_interval": 1.0, "heartbeat_interval": 15.0,
                "max_message_chars": 100000}
    traits = ResumeChat.class_traits(config=True)
    for name, value in defaults.items():
        assert traits[name].default() == value, name
    for name in ["model", "base_url", "api_key", "db_url"]:
        assert name in traits
