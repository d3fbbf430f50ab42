//! One call from image and mask to every feature.

use voxide_core::{Image, Voxel};

use crate::features::{
    glcm, gldzm, glrlm, glszm, histogram, ivh, local_intensity, morphology, ngldm, ngtdm,
    statistics,
};
use crate::processing::{discretise, prepare_roi};
use crate::settings::Settings;
use crate::{Feature, RadiomicsError, Roi};

/// Computes every IBSI feature family for the ROI `label` of `mask` on `image`.
pub fn extract<T: Voxel>(
    image: &Image<T>,
    mask: &Image<u8>,
    label: u8,
    settings: &Settings,
) -> Result<Vec<Feature>, RadiomicsError> {
    let roi = prepare_roi(
        image,
        mask,
        label,
        settings.interpolation.as_ref(),
        &settings.resegmentation,
    )?;
    features_of_roi(&roi, settings)
}

/// Every feature family of an already prepared ROI.
pub fn features_of_roi(roi: &Roi, settings: &Settings) -> Result<Vec<Feature>, RadiomicsError> {
    let intensities = roi.intensities();
    let (levels, n_levels) = discretise(roi, settings.discretisation)?;
    let level_values: Vec<u32> = levels.iter().copied().filter(|&l| l > 0).collect();
    let mut out = morphology::features(roi);
    out.extend(local_intensity::features(roi));
    out.extend(statistics::features(&intensities));
    out.extend(histogram::features(&level_values, n_levels));
    out.extend(ivh::features(&intensities, settings.ivh));
    let directional = settings.texture.directional();
    out.extend(glcm::features(&levels, n_levels, directional));
    out.extend(glrlm::features(&levels, n_levels, directional));
    let zonal = settings.texture.zonal();
    out.extend(glszm::features(&levels, n_levels, zonal));
    out.extend(gldzm::features(
        &levels,
        &roi.morphological_mask,
        n_levels,
        zonal,
    ));
    out.extend(ngtdm::features(&levels, n_levels, zonal));
    out.extend(ngldm::features(&levels, n_levels, zonal));
    Ok(out)
}
