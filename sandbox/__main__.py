"""`python -m sandbox <command>`: Django's manage.py for the sandbox project.

python -m sandbox migrate
python -m sandbox seed --seed 1 --tickets 600 --agents 6
python -m gunicorn sandbox.wsgi ...       (serve: see the Makefile's `sandbox` target)
python -m sandbox simulate --rate 10
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([f"{sys.executable} -m sandbox", *sys.argv[1:]])


if __name__ == "__main__":
    main()
