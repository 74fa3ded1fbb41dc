"""`fiml-bot chat`: the tutor in a terminal, for authors previewing lessons and for trying the bot.

Reads lines from a stream: a number picks a button of the last message (a message without
buttons clears them, so at a numeric question a number is the answer), `/commands` work as in
the bot, `/quit` (or `exit`, `q`) leaves, anything else is typed text. It can be scripted: each
input line is echoed when the input is not a terminal, so a transcript reads as a conversation;
it ends at the end of input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from rich.console import Console
from rich.markup import escape

from fiml_cms.message import Markup, convert

from ..keys.parsing import masked_line
from ..keys.parsing import parse as key_command
from ..tutor.callbacks import ReportProblem, decode
from ..tutor.events import Event, Help, Pressed, Start, Text, command_event
from ..tutor.messages import Button, Message

RICH = Markup(
    escape=escape,
    bold=lambda inner: f"[bold]{inner}[/bold]",
    italic=lambda inner: f"[italic]{inner}[/italic]",
    code=lambda inner: f"[cyan]{inner}[/cyan]",
)


def to_rich(text: str) -> str:
    """The tutor's Markdown subset (fiml_cms/message.py) as rich markup, with everything else escaped."""
    return convert(text, RICH)


class Quit:
    """The learner typed a way out."""


QUIT_WORDS = frozenset({"/quit", "/exit", "/q", "quit", "exit", "q", "bye"})
GOODBYE = "Bye! Your progress is saved; run the chat again to go on."


def parse_line(line: str, buttons: list[Button]) -> Event | Quit | str | None:
    """An event for one input line; a string is a message for the user; None: nothing to do."""
    text = line.strip()
    if not text:
        return None
    if text.lower() in QUIT_WORDS:
        return Quit()
    if text.isdigit() and buttons:
        number = int(text)
        if 1 <= number <= len(buttons):
            return Pressed(buttons[number - 1].data)
        return f"Pick a number from 1 to {len(buttons)}."
    if text.startswith("/"):
        return command_event(text)
    return Text(text)


def _is_report(button: Button) -> bool:
    """The "Report a problem" button: in the terminal, `/report` does what it does."""
    return isinstance(decode(button.data), ReportProblem)


class ConsoleChat:
    def __init__(
        self,
        handle: Callable[[Event], list[Message]],
        output: IO[str] | None = None,
        color: bool | None = None,
        render: Callable[[Message], str] | None = None,
        commands: Callable[[str, str], str] | None = None,
        secret_input: Callable[[str], str] | None = None,
    ) -> None:
        self.handle = handle
        self.render = render or (lambda message: message.text)  # live sections: data fetched here
        self.commands = commands  # /addkey, /listkeys, /removekey: (name, argument) -> the reply
        self.secret_input = secret_input  # asks for a key without echoing it (getpass)
        self.console = Console(
            file=output, force_terminal=color, no_color=color is False, highlight=False, soft_wrap=True
        )
        self.buttons: list[Button] = []

    def show(self, messages: list[Message]) -> None:
        buttons: list[Button] = []
        for message in messages:
            self.console.print(to_rich(self.render(message)))
            for row in message.buttons:
                labels = []
                for button in row:
                    if _is_report(button):  # unnumbered: at a numeric question a number is the answer
                        labels.append(f"[dim]/report: {escape(button.label.split(' ', 1)[-1].lower())}[/dim]")
                        continue
                    buttons.append(button)
                    labels.append(f"[bold][{len(buttons)}][/bold] {escape(button.label)}")
                self.console.print("   ".join(labels))
            self.console.print()
        if messages:  # a reply that ends without buttons retires the old ones: a number is then typed text
            self.buttons = buttons if any(not _is_report(b) for b in messages[-1].all_buttons) else []

    def run(self, lines: IO[str], interactive: bool = False) -> int:
        self.show(self.handle(Start()))
        while True:
            if interactive:
                self.console.print("[dim]› [/dim]", end="")
            line = lines.readline()
            if not line:
                return 0
            if not interactive and line.strip():  # a key is never echoed: only its last 4 characters
                self.console.print(f"[dim]›[/dim] {escape(masked_line(line.strip()))}")
            command = key_command(line) if self.commands is not None else None
            if command is not None and self.commands is not None:
                name, argument = command
                if name == "addkey" and len(argument.split()) == 1 and self.secret_input is not None:
                    argument = f"{argument} {self.secret_input('Key (not shown): ').strip()}"
                self.console.print(to_rich(self.commands(name, argument)) + "\n")
                continue
            event = parse_line(line, self.buttons)
            if event is None:
                continue
            if isinstance(event, Quit):
                self.console.print(GOODBYE)
                return 0
            if isinstance(event, str):
                self.console.print(escape(event))
                continue
            self.show(self.handle(event))
            if isinstance(event, Help):
                self.console.print(
                    "In this terminal: type the number of a button to press it, and /quit (or q) to leave.\n"
                )
