"""The public surface: what ``import jupyter_resumechat`` offers."""

import types

import jupyter_resumechat


def test_all_public_names_are_exported_and_only_they() -> None:
    """As httpx's test: every public name of the package is in ``__all__``, and
    ``__all__`` names nothing else (ruff keeps it sorted); ``ChatPanel`` is lazy."""
    public = {
        name
        for name, value in vars(jupyter_resumechat).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(public | {"ChatPanel"}) == sorted(set(jupyter_resumechat.__all__) - {"__version__"})
    assert len(set(jupyter_resumechat.__all__)) == len(jupyter_resumechat.__all__)


def test_exported_classes_are_ours_and_single() -> None:
    """One class per concept: what the package exports is defined in it, and
    the client re-exports the very same classes, not look-alikes."""
    from jupyter_resumechat import client

    for name in jupyter_resumechat.__all__:
        value = getattr(jupyter_resumechat, name)
        if isinstance(value, type):
            assert value.__module__.startswith("jupyter_resumechat."), name
    for name in ("SendResult", "ModelInfo", "Models"):
        assert getattr(client, name) is getattr(jupyter_resumechat, name)


def test_server_extension_point() -> None:
    points = jupyter_resumechat._jupyter_server_extension_points()
    assert points[0]["module"] == "jupyter_resumechat"
    assert points[0]["app"].name == "jupyter_resumechat"


def test_traits_of_design_section_5() -> None:
    from jupyter_resumechat.app import ResumeChat

    defaults = {
        "provider": "auto",
        "stream_backend": "memory",
        "stream_ttl": 300.0,
        "replay_window": 10000,
        "checkpoint_interval": 1.0,
        "heartbeat_interval": 15.0,
        "max_message_chars": 100000,
    }
    traits = ResumeChat.class_traits(config=True)
    for name, value in defaults.items():
        assert traits[name].default() == value, name
    for name in ["model", "base_url", "api_key", "db_url"]:
        assert name in traits
