"""Plotting helpers for the notebooks (matplotlib, imported by notebooks only — not by the core).
Every function returns ``(fig, axes)``. One module per experiment: :mod:`.toy` (toy and
Gaussians), :mod:`.baselines` (baselines, benchmark), :mod:`.color_transfer`,
:mod:`.domain_adaptation`, :mod:`.latent_ot`, :mod:`.style_transfer`."""
from .toy import (plot_toy_maps, plot_pushed_per_seed, plot_energy_curves, plot_mode_shares, plot_pca_maps,
                  plot_uvp_curves, plot_l2_uvp_vs_dim)
from .color_transfer import (plot_color_images, plot_rgb_clouds, plot_color_transfer_history)
from .domain_adaptation import (fit_pca, plot_digit_domains, plot_pca_domains, plot_knn_accuracy)
from .latent_ot import (plot_image_grid, plot_reconstructions, plot_loss_curves,
                        plot_generated_comparison, plot_latent_pca, plot_fid_bars)
from .style_transfer import (plot_unpaired_domains, plot_transport_grid, plot_style_history,
                             plot_distance_bars)
from .baselines import (plot_uvp_vs_dim, plot_time_vs_dim)

__all__ = ["plot_toy_maps", "plot_pushed_per_seed", "plot_energy_curves", "plot_mode_shares", "plot_pca_maps",
           "plot_uvp_curves", "plot_l2_uvp_vs_dim", "plot_color_images", "plot_rgb_clouds",
           "plot_color_transfer_history", "fit_pca", "plot_digit_domains", "plot_pca_domains",
           "plot_knn_accuracy", "plot_image_grid", "plot_reconstructions", "plot_loss_curves",
           "plot_generated_comparison", "plot_latent_pca", "plot_fid_bars",
           "plot_unpaired_domains", "plot_transport_grid", "plot_style_history",
           "plot_distance_bars", "plot_uvp_vs_dim", "plot_time_vs_dim"]
