"""Turning pydantic validation errors into launchbay's one-line BadInput."""

from store import BadInput


def check_model(model_class, data: dict, prefix: str):
    """Validate `data` with a pydantic model; a failure names the field and what was expected."""
    import pydantic

    try:
        return model_class.model_validate(data)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(model_class.model_fields)
            raise BadInput(location, f"unknown key; expected one of {allowed}") from None
        raise BadInput(location, f"{error['msg']} (got {error.get('input')!r})") from None
