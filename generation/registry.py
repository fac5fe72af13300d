"""The model registry's writes that other apps need (no imports of Agora's other apps)."""

from generation.models import LanguageModel


def language_model_get_or_create_external(*, name: str) -> LanguageModel:
    """The registry row for a model whose responses arrive with imported prompts."""
    model, _ = LanguageModel.objects.get_or_create(
        name=name, defaults={"backend": LanguageModel.Backend.EXTERNAL}
    )
    return model
