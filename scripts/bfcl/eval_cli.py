"""Runs the official `bfcl` CLI (bfcl-eval) with one extra model registry entry.

bfcl-eval only knows the models in its own registry, and each entry fixes the model name it sends.
Its OpenAI chat-completions handler already talks to any OpenAI-compatible endpoint through
OPENAI_BASE_URL, but no registry entry lets us choose the model name, which vLLM and SGLang check
against the served name. This shim adds `toolloop-policy-FC` (function-calling mode, chat
completions, model name from TOOLLOOP_BFCL_MODEL) and then hands over to the package's own CLI
unchanged: `python eval_cli.py generate|evaluate ...` takes the same arguments as `bfcl`.
"""
import os
import sys

REGISTRY_NAME = "toolloop-policy-FC"


def main() -> None:
    model = os.environ.get("TOOLLOOP_BFCL_MODEL", "").strip()
    if not model:
        sys.exit("eval_cli.py: TOOLLOOP_BFCL_MODEL is not set (the model name the endpoint serves)")

    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING, ModelConfig

    try:  # name since the v4 releases
        from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler as Handler
    except ImportError:  # v3-era releases
        from bfcl_eval.model_handler.api_inference.openai import OpenAIHandler as Handler

    # The registry is one dict imported by reference everywhere, so adding a key here is seen by
    # both generation and evaluation.
    MODEL_CONFIG_MAPPING[REGISTRY_NAME] = ModelConfig(
        model_name=model,
        # bfcl-eval writes its CSV summaries without quoting, so the display name must not hold a comma.
        display_name=f"{model.replace(',', ' ')} (toolloop policy FC)",
        url="",
        org="toolloop",
        license="",
        model_handler=Handler,
        input_price=None,
        output_price=None,
        is_fc_model=True,
        # Like the OpenAI FC entries: tool names with '.' are sent with '_' and mapped back by the checker.
        underscore_to_dot=True,
    )

    from bfcl_eval.__main__ import cli

    sys.argv[0] = "bfcl"
    cli()


if __name__ == "__main__":
    main()
