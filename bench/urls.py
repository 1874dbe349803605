"""The example's routes plus the views of the benchmarks (``bench.views``)."""

from django.urls import path
from example_project.urls import urlpatterns as example_urlpatterns

from bench.views import BoardView

urlpatterns = [
    path("bench/board/<int:pk>", BoardView.as_view(), name="bench-board"),
    *example_urlpatterns,
]
