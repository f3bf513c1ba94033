"""Questions for the secrets the enabled components need. Typed values are never echoed and
never go into the config document: they live in `Answers.secrets` until the secrets file."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from rich.console import Console

from talos_platform.engine.config.secrets import optional_secrets, required_secrets
from talos_platform.wizards import checks, prompts
from talos_platform.wizards.answers import Answers
from talos_platform.wizards.fields import DONE, Question, print_problem
from talos_platform.wizards.prompts import BACK

SECRET_LABELS = {
    "gitUsername": "Git user name for the private repository",
    "gitToken": "Git access token (read access to the repository)",
    "cloudflareApiToken": "Cloudflare API token for external-dns (Zone:DNS:Edit)",
    "cloudflareTunnelToken": "Cloudflare Tunnel token",
    "grafanaAdminPassword": "Grafana admin password",
    "argocdAdminPassword": "ArgoCD admin password",
}

# A user name is a credential but not a secret; it is typed visibly like any other name.
VISIBLE = {"gitUsername"}

NEEDED_BY = {
    "gitUsername": "ArgoCD needs it to clone the private GitOps repository",
    "gitToken": "ArgoCD needs it to clone the private GitOps repository",
    "cloudflareApiToken": "external-dns needs it to write the DNS records in Cloudflare",
    "cloudflareTunnelToken": "the Cloudflare Tunnel (cloudflared) connects with it",
}


def secret_question(name: str, *, optional: bool = False) -> Question:
    """`optional`: Enter with nothing typed leaves it unset (the install then generates one)."""

    def ask(answers: Answers, console: Console) -> Any:
        already = answers.secrets.get(name, "")

        visible = name in VISIBLE

        def check(text: str) -> str | None:
            # Enter keeps a hidden value given before (its prompt starts empty); a visible one
            # is shown in the prompt, so an emptied prompt means "none".
            if not text and (optional or (already and not visible)):
                return None
            if not text.strip():
                return f"{NEEDED_BY.get(name, 'the enabled components need it')}: enter it here"
            return checks.first_error(checks.secret_problems(answers, name, text))

        label = SECRET_LABELS.get(name, name)
        instruction: str | None
        if already:
            instruction = "(set; Enter keeps it)"
        else:
            instruction = "(Enter: generate one, kept in Vault)" if optional else None
        if visible:
            typed = prompts.ask_text(label, default=already, validate=check)
        else:
            typed = prompts.ask_password(label, validate=check, instruction=instruction)
        if typed is BACK:
            return BACK
        if typed:
            answers.secrets[name] = typed.strip() if visible else typed
        elif visible:
            answers.secrets.pop(name, None)  # emptied: stays empty
        for problem in checks.warnings(checks.secret_problems(answers, name, answers.secrets.get(name, ""))):
            print_problem(console, problem)
        return DONE

    return Question(f"secrets.{name}", ask, SECRET_LABELS.get(name, name))


def needed_secrets(answers: Answers) -> list[str]:
    try:
        return required_secrets(answers.to_config())
    except ValidationError:
        return []


def optional_secret_names(answers: Answers) -> list[str]:
    try:
        return optional_secrets(answers.to_config())
    except ValidationError:
        return []


def secret_questions(answers: Answers) -> list[Question]:
    asked = [secret_question(name) for name in needed_secrets(answers)]
    return asked + [secret_question(name, optional=True) for name in optional_secret_names(answers)]
