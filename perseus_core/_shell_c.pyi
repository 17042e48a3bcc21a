class Shell:
    before_lang: bytes
    before_head: bytes
    before_content: bytes
    before_state: bytes
    after_state: bytes
    embeds_state: bool
    def __init__(self, document: str, scripts: str, embeds_state: bool = True) -> None: ...
    def page(self, lang: str, head: str, content: str, escaped_state: bytes) -> bytes: ...
