"""The error a dataset raises when it holds fewer images than were asked for."""


class NotEnoughImagesError(ValueError):
    """A `ValueError` that also says how many images the source holds.

    Callers that asked for more images than they need to show the user (e.g.
    `keras_gahb.training.train`, which draws 2N + test images) catch it and
    explain the request in their own terms with `available`.

    Args:
        message: str, the sentence for the user.
        available: int, the images the source holds (readable ones).
        requested: int, the images that were asked for.
        source: str, the dataset's name or path, for messages.

    Example:

    >>> try:
    ...     keras_gahb.data.get_images("faces", 150, 16)
    ... except keras_gahb.data.NotEnoughImagesError as error:
    ...     error.available
    100
    """

    def __init__(self, message, available, requested, source=""):
        super().__init__(message)
        self.available = int(available)
        self.requested = int(requested)
        self.source = str(source)
