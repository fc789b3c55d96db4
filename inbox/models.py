"""What the app itself must remember: the agents who signed in, and their Zendesk tokens."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone

from inbox import crypto
from inbox.zendesk.records import TokenGrant, User


class AgentAccount(models.Model):
    """A Zendesk agent or admin who signed in with Zendesk: the app's identity for them.

    The session stores this row's id and session generation. Their OAuth tokens are kept encrypted (inbox.crypto);
    read them through `access_token` / `refresh_token`, which decrypt on demand. Nothing here
    prints a token: not __repr__, not __str__.
    """

    zendesk_user_id = models.BigIntegerField(unique=True)
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=20)  # agent | admin
    restricted = models.BooleanField(default=False)  # Zendesk's restricted_agent
    iana_time_zone = models.CharField(max_length=64, default="Etc/UTC")
    locale = models.CharField(max_length=32, default="en-US")
    photo_url = models.URLField(max_length=1000, blank=True)

    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    token_scope = models.CharField(max_length=255, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_signed_in_at = models.DateTimeField(null=True, blank=True)
    # Activities up to here were seen (inbox.services.activities); on the row, not
    # in the session, so "unread" follows the agent across devices.
    activities_seen_at = models.DateTimeField(null=True, blank=True)
    # Sessions carry the generation they were signed in under; signing out moves it on, which
    # ends every session of the agent for good (inbox.auth.current_agent compares them).
    session_generation = models.PositiveIntegerField(default=0)
    # When users/me last confirmed role and restricted flag (inbox.services.agents.agent_recheck).
    last_checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def __repr__(self) -> str:
        return f"<AgentAccount {self.pk}: zendesk user {self.zendesk_user_id}, {self.role}>"

    # -- tokens -----------------------------------------------------------------------------
    @property
    def access_token(self) -> str:
        return crypto.decrypt(self.access_token_encrypted) if self.access_token_encrypted else ""

    @property
    def refresh_token(self) -> str:
        return crypto.decrypt(self.refresh_token_encrypted) if self.refresh_token_encrypted else ""

    @property
    def has_tokens(self) -> bool:
        return bool(self.access_token_encrypted)

    def store_grant(self, grant: TokenGrant) -> None:
        """Keep a new token grant (encrypted); the caller saves."""
        self.access_token_encrypted = crypto.encrypt(grant.access_token)
        self.refresh_token_encrypted = (
            crypto.encrypt(grant.refresh_token) if grant.refresh_token else ""
        )
        self.token_scope = grant.scope
        self.token_expires_at = grant.expires_at
        self.refresh_expires_at = grant.refresh_expires_at

    def forget_tokens(self) -> None:
        """Drop the tokens (signed out, or refresh refused); the caller saves."""
        self.access_token_encrypted = ""
        self.refresh_token_encrypted = ""
        self.token_expires_at = None
        self.refresh_expires_at = None

    def token_expires_within(self, seconds: float, *, now: dt.datetime | None = None) -> bool:
        if self.token_expires_at is None:
            return False
        now = now or timezone.now()
        return self.token_expires_at <= now + dt.timedelta(seconds=seconds)

    def copy_profile(self, user: User) -> None:
        """Take name, role and preferences from the Zendesk user; the caller saves.

        Zendesk's text is cut to what the row holds (PostgreSQL refuses a longer value, which
        would end the sign-in with an error): a name is cut, a URL too long is no photo.
        """
        self.name = self._fitted("name", user.name)
        self.email = self._fitted("email", user.email or "")
        self.role = user.role
        self.restricted = user.restricted_agent
        self.iana_time_zone = self._fitted("iana_time_zone", user.iana_time_zone) or "Etc/UTC"
        self.locale = self._fitted("locale", user.locale) or "en-US"
        photo_url = user.photo_url or ""
        self.photo_url = photo_url if len(photo_url) <= self._max_length("photo_url") else ""

    @classmethod
    def _max_length(cls, field_name: str) -> int:
        return cls._meta.get_field(field_name).max_length

    @classmethod
    def _fitted(cls, field_name: str, value: str | None) -> str:
        return (value or "")[: cls._max_length(field_name)]


# -- the inbox: what an agent chose and what they opened (not Zendesk's data) ------------------
class AgentPreference(models.Model):
    """An agent's choices for the app's look, kept on the server so they follow the agent.

    Its own table rather than columns on AgentAccount: sign-in owns that row, the inbox owns
    this one, and an agent who never chose anything has no row (the defaults apply).
    """

    THEME_SYSTEM = "system"
    THEME_LIGHT = "light"
    THEME_DARK = "dark"
    THEMES = [(THEME_SYSTEM, "System"), (THEME_LIGHT, "Light"), (THEME_DARK, "Dark")]

    agent = models.OneToOneField(AgentAccount, on_delete=models.CASCADE, related_name="preference")
    theme = models.CharField(max_length=8, choices=THEMES, default=THEME_SYSTEM)
    ORDER_OLDEST = "oldest"
    ORDER_NEWEST = "newest"
    ORDERS = [(ORDER_OLDEST, "Oldest first"), (ORDER_NEWEST, "Newest first")]
    # How the ticket page lists a conversation.
    conversation_order = models.CharField(max_length=8, choices=ORDERS, default=ORDER_OLDEST)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of agent {self.agent_id}"


class ViewedTicket(models.Model):
    """A ticket an agent opened in the app, and when they last did.

    Zendesk's own "recently viewed" list counts only views in Zendesk's agent interface (an
    API read is not a view), so the app keeps its own and merges the two.
    """

    agent = models.ForeignKey(AgentAccount, on_delete=models.CASCADE, related_name="viewed")
    ticket_id = models.BigIntegerField()
    viewed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "ticket_id"], name="viewed_once_per_agent")
        ]
        indexes = [models.Index(fields=["agent", "-viewed_at"], name="viewed_newest_first")]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} viewed by agent {self.agent_id}"


class TicketDraft(models.Model):
    """What an agent has typed on a ticket and not sent yet, kept on the server so it survives
    a refused submit, a reload and a second device; removed when sent, expired after
    DRAFT_MAX_AGE_DAYS (inbox.services.ticket_page)."""

    agent = models.ForeignKey(AgentAccount, on_delete=models.CASCADE, related_name="drafts")
    ticket_id = models.BigIntegerField()
    body = models.TextField(blank=True)
    public = models.BooleanField(default=True)
    # The field changes of the form (status, priority, assignee, tags, CCs) and the files
    # already uploaded to Zendesk ({token, file_name, size}), as the form last sent them.
    changes = models.JSONField(default=dict, blank=True)
    uploads = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "ticket_id"], name="one_draft_per_ticket")
        ]
        indexes = [models.Index(fields=["updated_at"], name="draft_age")]

    def __str__(self) -> str:
        return f"draft on ticket {self.ticket_id} by agent {self.agent_id}"


# -- activity: what an agent opened in their notification feed, and how they want telling -----
class ActivityRead(models.Model):
    """An activity the agent opened from the drawer (read before the last-seen mark passed it).

    Unread = newer than `AgentAccount.activities_seen_at` and not here. Rows at or before the
    mark say nothing more and are dropped when the mark moves (`activity_created_at`).
    """

    agent = models.ForeignKey(AgentAccount, on_delete=models.CASCADE, related_name="reads")
    activity_id = models.BigIntegerField()
    activity_created_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "activity_id"], name="read_once_per_agent")
        ]

    def __str__(self) -> str:
        return f"activity {self.activity_id} opened by agent {self.agent_id}"


class NotificationPreference(models.Model):
    """How the agent wants to hear of new activity: desktop notifications (opt-in), a sound,
    do-not-disturb. On the server, so every browser of the agent agrees."""

    agent = models.OneToOneField(
        AgentAccount, on_delete=models.CASCADE, related_name="notification_preference"
    )
    desktop = models.BooleanField(default=False)
    sound = models.BooleanField(default=False)
    do_not_disturb = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification preferences of agent {self.agent_id}"


# -- creating a ticket: the form's draft and its one Idempotency-Key ---------------------------
class TicketCreateDraft(models.Model):
    """One "new ticket" form of an agent: what they typed, and what was last sent to Zendesk.

    The form's Idempotency-Key is `form_id` and `attempt` (inbox.services.ticket_new); a new
    attempt starts only when Zendesk has said for sure that the last one created nothing.
    `sent_body` is the exact body last sent under `sent_key`: while `unconfirmed` (the answer
    was lost) it is sent again, unchanged, before the agent may edit. Once the ticket exists,
    `ticket_id` is set and the typed fields are cleared; the row stays while Zendesk still
    remembers the key, so a repeat of the form lands on the same ticket.
    """

    agent = models.ForeignKey(
        AgentAccount, on_delete=models.CASCADE, related_name="ticket_create_drafts"
    )
    form_id = models.CharField(max_length=32, unique=True)
    attempt = models.PositiveIntegerField(default=1)
    fields = models.JSONField(default=dict, blank=True)
    sent_key = models.CharField(max_length=100, blank=True)
    sent_body = models.JSONField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    unconfirmed = models.BooleanField(default=False)
    ticket_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["agent", "-updated_at"], name="create_draft_newest_first")]

    def __str__(self) -> str:
        return f"new-ticket form {self.form_id} of agent {self.agent_id}"
