"""The `text` variant: conversations as strings for trainers that take text, not message lists.

A layout writes a row's `prompt` ending with the assistant's cue, and its completion (`chosen`,
`rejected`, `completion`) as what follows that cue, so that prompt + completion is the whole
conversation, well formed, as TRL joins them. Two layouts (docs/exports.md):

- a registered model's chat template (the `chat_template` option names the model): the
  prompt is `apply_chat_template(prompt, add_generation_prompt=True)` and a completion the
  rest of `apply_chat_template(prompt + [reply])`, which is what TRL's `apply_chat_template`
  gives for the conversational rows;
- else Agora's plain layout, with a role cue on both sides: `System: ...`, `User: ...`,
  `Assistant: ...` blocks separated by blank lines, the prompt ending with `Assistant:` and a
  completion starting with a space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from annotation.errors import RuleError
from generation.models import LanguageModel

from ..options import ExportOptions

if TYPE_CHECKING:
    from .context import ExportContext

Chat = list[dict[str, str]]

# The plain layout's role cues.
CUES = {"system": "System", "user": "User", "assistant": "Assistant"}


class PlainLayout:
    """`System: ...\\n\\nUser: ...\\n\\nAssistant:` and ` reply`."""

    name = "plain"

    def prompt(self, chat: Chat) -> str:
        return "\n\n".join([*(f"{CUES[m['role']]}: {m['content']}" for m in chat), "Assistant:"])

    def completion(self, chat: Chat, reply: str) -> str:
        return f" {reply}"


class TemplateLayout:
    """A model's chat template, as TRL applies it."""

    def __init__(self, tokenizer: Any, model: str):
        self.tokenizer = tokenizer
        self.name = model
        self._prompts: dict[tuple[tuple[str, str], ...], str] = {}

    def prompt(self, chat: Chat) -> str:
        key = tuple((m["role"], m["content"]) for m in chat)
        text = self._prompts.get(key)
        if text is None:
            if len(self._prompts) > 4096:
                self._prompts.clear()
            text = self._prompts[key] = self._render(chat, add_generation_prompt=True)
        return text

    def completion(self, chat: Chat, reply: str) -> str:
        prompt = self.prompt(chat)
        whole = self._render([*chat, {"role": "assistant", "content": reply}])
        if not whole.startswith(prompt):
            raise RuleError(
                f"The chat template of {self.name} does not write a conversation as its prompt "
                "followed by the reply, so a completion cannot be cut from it; export without "
                "chat_template (Agora's plain layout).",
                field="chat_template",
            )
        return whole[len(prompt) :]

    def _render(self, chat: Chat, *, add_generation_prompt: bool = False) -> str:
        text = self.tokenizer.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=add_generation_prompt
        )
        assert isinstance(text, str)  # tokenize=False renders one conversation to text
        return text


TextLayout = PlainLayout | TemplateLayout

# Backends whose models have a tokenizer on local files (an OpenAI-compatible endpoint or an
# imported model has none that Agora can read).
_LOCAL = (LanguageModel.Backend.TRANSFORMERS, LanguageModel.Backend.VLLM)


def text_layout(options: ExportOptions) -> TextLayout | None:
    """The layout of the `text` variant the options ask for (None without `text`); a chat
    template that cannot be used is refused here, before anything is written."""
    if not options.text:
        return None
    name = options.chat_template
    if name is None:
        return PlainLayout()
    model = LanguageModel.objects.filter(name=name).first()
    if model is None:
        raise RuleError(
            f"chat_template names a registered model whose chat template writes the text, and "
            f"there is no registered model named {name!r}.",
            field="chat_template",
        )
    if model.backend not in _LOCAL:
        raise RuleError(
            f"chat_template: {name} runs on the {model.backend} backend, so Agora has no "
            f"tokenizer of it; name a {' or '.join(_LOCAL)} model.",
            field="chat_template",
        )
    settings = model.settings or {}
    # Imported here: transformers (and torch) load only for an export that asks for them.
    from generation.backends import BackendError
    from generation.backends.transformers import chat_tokenizer

    try:
        tokenizer = chat_tokenizer(settings.get("model"), settings.get("gguf_file"))
    except BackendError as e:
        raise RuleError(
            f"chat_template: the chat template of {name} cannot be read: {e}.",
            field="chat_template",
        ) from e
    layout = TemplateLayout(tokenizer, name)
    # A template that cannot be cut into prompt and completion is refused now, not mid-file.
    layout.completion([{"role": "user", "content": "Hello."}], "Hi.")
    return layout


def text_check(ctx: ExportContext) -> None:
    """Check the `text` variant's layout before anything is written (a chat template that
    cannot be read is refused); loaded once per export."""
    if ctx.options.text:
        ctx.text_layout  # noqa: B018  (read for its check)
