"""One pagination helper for every list page (bounded page size, bad page numbers clamp)."""

from django.core.paginator import Page, Paginator


def paginate(request, queryset, *, per_page: int = 50) -> Page:
    paginator = Paginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))
