"""The sandbox's Zendesk account: what Zendesk would store, shaped for its API.

Ids are assigned explicitly by the seed (Zendesk-like large ids for users, orgs, groups;
small "nice ids" for tickets), so a seed is reproducible.
"""

from __future__ import annotations

from django.db import models

from sandbox.upload_models import Attachment, Upload  # noqa: F401  (models of this app)


class Organization(models.Model):
    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200, unique=True)
    domain_names = models.JSONField(default=list)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class Group(models.Model):
    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class User(models.Model):
    ROLES = [("end-user", "end-user"), ("agent", "agent"), ("admin", "admin")]
    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    role = models.CharField(max_length=10, choices=ROLES)
    # Restricted agents: ticket_restriction "groups" (their groups' tickets, plus CC/follow).
    restricted_agent = models.BooleanField(default=False)
    ticket_restriction = models.CharField(max_length=20, null=True, blank=True)
    suspended = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    iana_time_zone = models.CharField(max_length=64, default="Etc/UTC")
    locale = models.CharField(max_length=10, default="en-US")
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    default_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    groups = models.ManyToManyField(Group, related_name="members", blank=True)
    photo_url = models.URLField(null=True, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_login_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_agent(self) -> bool:
        return self.role in ("agent", "admin")


class CustomStatus(models.Model):
    CATEGORIES = ["new", "open", "pending", "hold", "solved"]
    id = models.BigIntegerField(primary_key=True)
    status_category = models.CharField(max_length=10)
    agent_label = models.CharField(max_length=100)
    end_user_label = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True, default="")
    end_user_description = models.CharField(max_length=300, blank=True, default="")
    active = models.BooleanField(default=True)
    default = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class Ticket(models.Model):
    STATUSES = ["new", "open", "pending", "hold", "solved", "closed"]
    PRIORITIES = ["low", "normal", "high", "urgent"]
    TYPES = ["problem", "incident", "question", "task"]

    id = models.BigIntegerField(primary_key=True)  # the "nice id"
    external_id = models.CharField(max_length=100, null=True, blank=True, db_index=True)
    subject = models.CharField(max_length=300)
    description = models.TextField()  # the first comment's body (read-only in the API)
    status = models.CharField(max_length=10, db_index=True)
    priority = models.CharField(max_length=10, null=True, blank=True)
    type = models.CharField(max_length=10, null=True, blank=True)
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="requested_tickets")
    submitter = models.ForeignKey(User, on_delete=models.PROTECT, related_name="submitted_tickets")
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    email_ccs = models.ManyToManyField(User, related_name="ccd_tickets", blank=True)
    followers = models.ManyToManyField(User, related_name="followed_tickets", blank=True)
    tags = models.JSONField(default=list)
    # Values of the account's text-like custom fields by field id (sandbox.ticket_fields);
    # drop-downs, multi-selects and checkboxes keep theirs as tags, as Zendesk's do.
    custom_values = models.JSONField(default=dict)
    custom_status = models.ForeignKey(
        CustomStatus, null=True, blank=True, on_delete=models.SET_NULL
    )
    via_channel = models.CharField(max_length=20, default="web")
    is_public = models.BooleanField(default=True)
    due_at = models.DateTimeField(null=True, blank=True)
    # Closed tickets older than Zendesk's archive age are archived: left out of /tickets,
    # organization tickets and /tickets/recent, still reachable by id and in user lists.
    archived = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(db_index=True)


class Comment(models.Model):
    id = models.BigIntegerField(primary_key=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(User, on_delete=models.PROTECT)
    body = models.TextField()
    # The html_body as its author sent it; None: made from `body` (what the API's writes keep).
    # Only POST /_sandbox/hostile sets it, to hand the app markup no upstream sanitizer cleaned.
    html_body = models.TextField(null=True, blank=True)
    public = models.BooleanField(default=True)
    via_channel = models.CharField(max_length=20, default="web")
    audit_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)


class Audit(models.Model):
    id = models.BigIntegerField(primary_key=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="audits")
    author = models.ForeignKey(User, on_delete=models.PROTECT)
    events = models.JSONField(default=list)
    via_channel = models.CharField(max_length=20, default="api")
    created_at = models.DateTimeField()


class RecentView(models.Model):
    """A ticket an agent opened in Zendesk's own agent interface (feeds /tickets/recent)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recent_views")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)
    viewed_at = models.DateTimeField()

    class Meta:
        unique_together = [("user", "ticket")]


class Activity(models.Model):
    """Something someone else did that affects `user` (the agent who sees it)."""

    VERBS = ["tickets.assignment", "tickets.comment", "tickets.priority_increase"]
    id = models.BigIntegerField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="activities")
    # None means the system (serialized as actor_id -1).
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=40)
    title = models.CharField(max_length=500)
    object = models.JSONField(default=dict)
    target = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()


class FieldLabel(models.Model):
    """A ticket field's title or a drop-down option's name as an admin renamed it, by key
    ("field:<id>" or "option:<id>"); the fixed fields in sandbox.ticket_fields otherwise."""

    key = models.CharField(max_length=40, unique=True)
    name = models.TextField()


class RequiredField(models.Model):
    """A ticket field an admin made required to solve a ticket (`required` in GET
    /api/v2/ticket_fields); SANDBOX_REQUIRED_TO_SOLVE names more for the whole run."""

    field_id = models.BigIntegerField(unique=True)


class OAuthClient(models.Model):
    identifier = models.CharField(max_length=100, unique=True)  # client_id
    secret = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    # Exact URIs, or patterns with a `*` port wildcard such as http://127.0.0.1:*/auth/callback
    redirect_uris = models.JSONField(default=list)


class OAuthGrant(models.Model):
    """An authorization code: single use, 120 s, bound to client, redirect_uri and PKCE."""

    code = models.CharField(max_length=200, unique=True)
    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    redirect_uri = models.CharField(max_length=500)
    scopes = models.CharField(max_length=200)
    code_challenge = models.CharField(max_length=200, blank=True, default="")
    code_challenge_method = models.CharField(max_length=10, blank=True, default="")
    expires_at = models.DateTimeField()
    used = models.BooleanField(default=False)


class OAuthToken(models.Model):
    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    # Stored as sha256 hex digests, as a careful server would.
    access_token_digest = models.CharField(max_length=64, unique=True)
    refresh_token_digest = models.CharField(max_length=64, unique=True, null=True)
    scopes = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField(null=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # The code this token (and the tokens refreshed from it) came from: a second exchange of
    # that code revokes them all (RFC 6749 section 4.1.2).
    grant = models.ForeignKey(OAuthGrant, null=True, blank=True, on_delete=models.SET_NULL)


class IdempotencyRecord(models.Model):
    key = models.CharField(max_length=200)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    body_digest = models.CharField(max_length=64)
    status_code = models.IntegerField()
    response_body = models.TextField()
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        unique_together = [("key", "user")]
