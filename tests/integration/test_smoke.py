async def test_send_and_read(api):
    conv = await api.conversation(title="t")
    sent = await api.send(conv["id"], "/repeat 20 é😀")
    read = await api.events(sent["stream_id"])
    assert read.text == "é😀" * 20
