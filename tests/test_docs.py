"""The module docstring is the map of torchnlp.py: it names every public function and class."""

import inspect

import torchnlp


def test_module_docstring_names_every_public_function_and_class():
    public = [
        name
        for name, obj in vars(torchnlp).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == "torchnlp"
    ]
    assert len(public) > 40
    assert [name for name in public if f"``{name}``" not in torchnlp.__doc__] == []
