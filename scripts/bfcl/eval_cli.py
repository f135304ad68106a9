"""Runs the official `bfcl` CLI (bfcl-eval) with one extra model registry entry.

bfcl-eval only knows the models in its own registry, and each entry fixes the model name it sends.
Its OpenAI chat-completions handler already talks to any OpenAI-compatible endpoint through
OPENAI_BASE_URL, but no registry entry lets us choose the model name, which vLLM and SGLang check
against the served name. This shim adds `toolloop-policy-FC` (function-calling mode, chat
completions, model name from TOOLLOOP_BFCL_MODEL) and then hands over to the package's own CLI
unchanged: `python eval_cli.py generate|evaluate ...` takes the same arguments as `bfcl`.

When TOOLLOOP_BFCL_PARENT_PID is set, the process also ends itself once that parent is gone: a
worker killed with SIGKILL cannot stop it, and an orphan still generating would race the retry of
its batch on the same result file and send every in-flight id to the endpoint twice. Ending (that,
or SIGTERM) waits for a result-file write in progress: with --run-ids bfcl-eval rewrites the whole
file in place, and a process killed in the middle of that would lose finished results.
"""
import functools
import os
import signal
import sys
import threading
import time

REGISTRY_NAME = "toolloop-policy-FC"
PARENT_POLL_SECONDS = 0.2
# Held around every result-file write; taken (and never given back) by the process on its way out.
WRITE_LOCK = threading.Lock()
WRITE_WAIT_SECONDS = 10


def end_process(code: int) -> None:
    WRITE_LOCK.acquire(timeout=WRITE_WAIT_SECONDS)
    # As leader of its own process group (the worker starts it detached), take any helpers along.
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(code)


def guard_result_writes() -> None:
    import bfcl_eval.utils as utils
    from bfcl_eval.model_handler.base_handler import BaseHandler

    def guarded(write):
        @functools.wraps(write)
        def wrapper(*args, **kwargs):
            with WRITE_LOCK:
                return write(*args, **kwargs)

        return wrapper

    # handler.write appends or rewrites result lines; utils.write_list_of_dicts_to_file is the
    # final re-sort (looked up as a module global, so patching the module attribute reaches it).
    BaseHandler.write = guarded(BaseHandler.write)
    utils.write_list_of_dicts_to_file = guarded(utils.write_list_of_dicts_to_file)
    # The handler runs in the main thread, which may itself be writing: end from another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=end_process, args=(128 + signal.SIGTERM,), daemon=True).start())


def exit_with_parent() -> None:
    raw = os.environ.get("TOOLLOOP_BFCL_PARENT_PID", "").strip()
    if not raw:
        return
    try:
        parent = int(raw)
    except ValueError:
        sys.exit(f"eval_cli.py: TOOLLOOP_BFCL_PARENT_PID must be a process id, got {raw!r}")
    if os.getppid() != parent:
        end_process(1)

    def watch() -> None:
        # An orphan is re-parented (to init or a subreaper), so its parent id changes.
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        end_process(1)

    threading.Thread(target=watch, name="toolloop-parent-watch", daemon=True).start()


def main() -> None:
    exit_with_parent()
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

    guard_result_writes()
    from bfcl_eval.__main__ import cli

    sys.argv[0] = "bfcl"
    cli()


if __name__ == "__main__":
    main()
