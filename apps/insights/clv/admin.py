"""The console's lifetime value pages: the diagnostics (the model list is that page) and the members' scores."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _

from apps.core.admin import EstimatedCountPaginator

from ..charts import bar_chart, paired_bar_chart
from ..errors import ClvCannotFit
from .models import ClvModel, MemberClv
from .selectors import clv_current_model, clv_models_recent
from .services import clv_fit


def model_in_words(model: ClvModel) -> list[tuple[str, str, str]]:
    """(parameters, values, what they mean in plain words) for the fitted model."""
    assert model.r and model.alpha and model.a and model.b and model.p and model.q and model.v  # a fitted model
    yearly = 365 * model.r / model.alpha
    drop = model.a / (model.a + model.b)
    spend = model.p * model.v / (model.q - 1)
    unevenly = _("very unevenly: most buy rarely, a few often") if model.r < 1 else _("fairly evenly")
    return [
        (
            "r, α",
            f"r = {model.r:.3f}, α = {model.alpha:.2f} " + _("days"),
            _(
                "While they keep buying, members buy about %(yearly).1f times a year on average; purchase rates "
                "are spread %(unevenly)s (r below 1 means the spread is wide)."
            )
            % {"yearly": yearly, "unevenly": unevenly},
        ),
        (
            "a, b",
            f"a = {model.a:.3f}, b = {model.b:.3f}",
            _(
                "After each purchase a member stops buying for good with a probability that differs from member "
                "to member; on average %(drop).0f%% stop after any one purchase."
            )
            % {"drop": drop * 100},
        ),
        (
            "p, q, γ",
            f"p = {model.p:.2f}, q = {model.q:.2f}, γ = {model.v:.2f}",
            _(
                "A purchase is worth about %(spend).2f on average across members; a member's own average is "
                "trusted more the more often they have bought (p is how steady one member's spend is)."
            )
            % {"spend": spend},
        ),
    ]


@admin.register(ClvModel)
class ClvModelAdmin(admin.ModelAdmin):
    """The diagnostics page: the list of fitted models is that page."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path("fit/", self.admin_site.admin_view(self.fit_view), name="insights_clvmodel_fit"),
            *super().get_urls(),
        ]

    def fit_view(self, request: HttpRequest) -> HttpResponse:
        """Refit now (the weekly task does the same)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            model = clv_fit()
        except ClvCannotFit as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Fitted as of %(day)s; %(n)d members scored.") % {"day": model.as_of, "n": model.members}
            )
        return redirect("admin:insights_clvmodel_changelist")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        model = clv_current_model()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Predicted value: model diagnostics"),
            "opts": self.model._meta,
            "model": model,
            "recent": clv_models_recent(),
        }
        if model is not None:
            diagnostics = model.diagnostics
            holdout = diagnostics.get("holdout") or {}
            context |= {
                "words": model_in_words(model),
                "holdout": holdout,
                "holdout_chart": paired_bar_chart(
                    [(row["x"], row["predicted"], row["actual"]) for row in holdout.get("by_x", [])],
                    title=_("Repeat purchases per member in the holdout weeks"),
                    legend=(_("predicted"), _("actual")),
                )
                if holdout.get("by_x")
                else None,
                "p_alive_chart": bar_chart(
                    [(f"{b['from']:.1f}–{b['to']:.1f}", b["members"]) for b in diagnostics.get("p_alive", [])],
                    title=_("Members by P(alive)"),
                ),
                "bands": diagnostics.get("value_bands", []),
                "bands_chart": bar_chart(
                    [(b["band"], b["value"]) for b in diagnostics.get("value_bands", [])],
                    title=_("Predicted 365-day value by band"),
                ),
            }
        return TemplateResponse(request, "admin/insights/clv_diagnostics.html", context)


@admin.register(MemberClv)
class MemberClvAdmin(admin.ModelAdmin):
    list_display = (
        "member",
        "likely_to_buy_again",
        "p_alive",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "expected_spend",
        "expected_value_365d",
        "value_band",
        "as_of",
    )
    list_filter = ("value_band",)
    search_fields = ("=member__code", "=member__phone")
    list_select_related = ("member",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [f.name for f in MemberClv._meta.fields] + ["likely_to_buy_again"]

    @admin.display(description=_("likely to buy again"))
    def likely_to_buy_again(self, obj: MemberClv) -> str:
        return obj.likely_to_buy or "–"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
