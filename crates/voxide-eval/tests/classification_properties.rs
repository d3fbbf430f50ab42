//! Properties the classification and detection metrics must have on random data: symmetries,
//! ranges, identities, agreement with brute-force definitions, bootstrap determinism.

use proptest::prelude::*;
use voxide_eval::classification::{
    auc, auc_ci_bootstrap, cohen_kappa, confusion_at, confusion_matrix, delong_variance, roc_curve,
    threshold_metrics, youden_threshold, BootstrapOptions, KappaWeights,
};
use voxide_eval::detection::{cpm_bootstrap, froc, MatchedDetection, Outcome, ScanMatches};

/// Labels with both classes and scores on a coarse grid (many ties), equally long.
fn binary(min_per_class: usize) -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    (2 * min_per_class..60).prop_flat_map(move |n| {
        (
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(-20i32..20, n),
        )
            .prop_filter("both classes", move |(l, _)| {
                let p = l.iter().filter(|&&x| x).count();
                p >= min_per_class && l.len() - p >= min_per_class
            })
            .prop_map(|(l, s)| (l, s.into_iter().map(|v| f64::from(v) / 4.0).collect()))
    })
}

/// The Mann–Whitney AUC by counting every pair.
fn brute_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for i in 0..labels.len() {
        for j in 0..labels.len() {
            if labels[i] && !labels[j] {
                pairs += 1.0;
                if scores[i] > scores[j] {
                    wins += 1.0;
                } else if scores[i] == scores[j] {
                    wins += 0.5;
                }
            }
        }
    }
    wins / pairs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn auc_is_mann_whitney_and_flips_with_the_scores((labels, scores) in binary(1)) {
        let a = auc(&labels, &scores).unwrap();
        prop_assert!((0.0..=1.0).contains(&a));
        prop_assert!((a - brute_auc(&labels, &scores)).abs() < 1e-12);
        let negated: Vec<f64> = scores.iter().map(|s| -s).collect();
        prop_assert!((a - (1.0 - auc(&labels, &negated).unwrap())).abs() < 1e-12);
        // Flipping the labels is the same as negating the scores.
        let flipped: Vec<bool> = labels.iter().map(|l| !l).collect();
        prop_assert!((auc(&flipped, &scores).unwrap() - (1.0 - a)).abs() < 1e-12);
    }

    #[test]
    fn roc_is_monotone_from_origin_to_corner((labels, scores) in binary(1)) {
        let roc = roc_curve(&labels, &scores).unwrap();
        prop_assert_eq!(roc.thresholds[0], f64::INFINITY);
        prop_assert_eq!((roc.fpr[0], roc.tpr[0]), (0.0, 0.0));
        prop_assert_eq!((*roc.fpr.last().unwrap(), *roc.tpr.last().unwrap()), (1.0, 1.0));
        for w in 1..roc.thresholds.len() {
            prop_assert!(roc.thresholds[w] < roc.thresholds[w - 1]);
            prop_assert!(roc.fpr[w] >= roc.fpr[w - 1] && roc.tpr[w] >= roc.tpr[w - 1]);
            // Every point is the confusion table at its threshold.
            let c = confusion_at(&labels, &scores, roc.thresholds[w]).unwrap();
            prop_assert_eq!(c.true_positives, roc.true_positives[w]);
            prop_assert_eq!(c.false_positives, roc.false_positives[w]);
        }
    }

    #[test]
    fn delong_variance_is_non_negative((labels, scores) in binary(2)) {
        let (a, var) = delong_variance(&labels, &scores).unwrap();
        prop_assert!(var >= 0.0 && var.is_finite());
        prop_assert!((a - brute_auc(&labels, &scores)).abs() < 1e-12);
    }

    #[test]
    fn confusion_counts_add_up((labels, scores) in binary(1), t in -6.0f64..6.0) {
        let c = confusion_at(&labels, &scores, t).unwrap();
        let positives = labels.iter().filter(|&&l| l).count() as u64;
        prop_assert_eq!(c.true_positives + c.false_negatives, positives);
        prop_assert_eq!(c.true_positives + c.false_positives + c.true_negatives + c.false_negatives, labels.len() as u64);
        let m = threshold_metrics(&c, 0.95).unwrap();
        for p in [m.sensitivity, m.specificity, m.ppv, m.npv, m.accuracy] {
            if p.trials > 0 {
                prop_assert!(0.0 <= p.lower && p.lower <= p.estimate && p.estimate <= p.upper && p.upper <= 1.0);
            } else {
                prop_assert!(p.estimate.is_nan() && p.lower.is_nan() && p.upper.is_nan());
            }
        }
    }

    #[test]
    fn youden_is_the_highest_threshold_of_maximal_j((labels, scores) in binary(1)) {
        let best = youden_threshold(&labels, &scores).unwrap();
        let roc = roc_curve(&labels, &scores).unwrap();
        let (p, n) = (roc.positives as i64, roc.negatives as i64);
        let j = |w: usize| roc.true_positives[w] as i64 * n - roc.false_positives[w] as i64 * p;
        let max = (0..roc.thresholds.len()).map(j).max().unwrap();
        let first = (0..roc.thresholds.len()).find(|&w| j(w) == max).unwrap();
        prop_assert_eq!(best.threshold, roc.thresholds[first]);
        prop_assert!((best.youden - (roc.tpr[first] - roc.fpr[first])).abs() < 1e-12);
    }

    #[test]
    fn kappa_of_identical_ratings_is_one(ratings in proptest::collection::vec(0u8..6, 2..80)) {
        let distinct = { let mut r = ratings.clone(); r.sort(); r.dedup(); r.len() };
        for w in [KappaWeights::Unweighted, KappaWeights::Linear, KappaWeights::Quadratic] {
            let k = cohen_kappa(&ratings, &ratings, w);
            if distinct >= 2 {
                prop_assert!((k.unwrap() - 1.0).abs() < 1e-12);
            } else {
                prop_assert!(k.is_err());
            }
        }
    }

    #[test]
    fn kappa_is_symmetric_and_at_most_one(
        pairs in proptest::collection::vec((0u8..5, 0u8..5), 2..80)
    ) {
        let (a, b): (Vec<u8>, Vec<u8>) = pairs.into_iter().unzip();
        for w in [KappaWeights::Unweighted, KappaWeights::Linear, KappaWeights::Quadratic] {
            match (cohen_kappa(&a, &b, w), cohen_kappa(&b, &a, w)) {
                (Ok(x), Ok(y)) => prop_assert!((x - y).abs() < 1e-12 && x <= 1.0 + 1e-12),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "kappa defined one way only"),
            }
        }
    }

    #[test]
    fn confusion_matrix_sums(pairs in proptest::collection::vec((0u8..7, 0u8..7), 1..100)) {
        let (a, b): (Vec<u8>, Vec<u8>) = pairs.into_iter().unzip();
        let m = confusion_matrix(&a, &b).unwrap();
        prop_assert_eq!(m.total(), a.len() as u64);
        for (r, class) in m.classes.iter().enumerate() {
            let row: u64 = m.counts[r].iter().sum();
            let col: u64 = m.counts.iter().map(|row| row[r]).sum();
            prop_assert_eq!(row, a.iter().filter(|&x| x == class).count() as u64);
            prop_assert_eq!(col, b.iter().filter(|&x| x == class).count() as u64);
        }
        let diagonal: u64 = (0..m.classes.len()).map(|i| m.counts[i][i]).sum();
        prop_assert_eq!(diagonal, a.iter().zip(&b).filter(|(x, y)| x == y).count() as u64);
    }

    #[test]
    fn froc_is_monotone_and_cpm_a_proportion(
        scans in proptest::collection::vec(
            (0usize..4, proptest::collection::vec((0u8..20, any::<bool>()), 0..8)), 1..10)
    ) {
        let scans: Vec<ScanMatches> = scans
            .into_iter()
            .map(|(lesions, dets)| {
                let mut found = 0;
                let detections = dets
                    .into_iter()
                    .map(|(s, hit)| {
                        let outcome = if hit && found < lesions {
                            found += 1;
                            Outcome::TruePositive { lesion: found - 1 }
                        } else {
                            Outcome::FalsePositive
                        };
                        MatchedDetection { score: f64::from(s) / 20.0, outcome }
                    })
                    .collect();
                ScanMatches { detections, lesions }
            })
            .collect();
        let total: usize = scans.iter().map(|s| s.lesions).sum();
        match froc(&scans) {
            Err(_) => prop_assert_eq!(total, 0),
            Ok(c) => {
                for w in 1..c.thresholds.len() {
                    prop_assert!(c.fp_per_scan[w] >= c.fp_per_scan[w - 1]);
                    prop_assert!(c.sensitivity[w] >= c.sensitivity[w - 1]);
                }
                let cpm = c.cpm();
                prop_assert!((0.0..=1.0).contains(&cpm.score));
                prop_assert!(cpm.sensitivities.windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }
}

/// The bootstrap gives the same interval on one thread and on four, and twice in a row.
#[test]
fn bootstraps_are_deterministic_across_thread_counts() {
    let labels: Vec<bool> = (0..300).map(|i| (i * 7919) % 10 < 3).collect();
    let scores: Vec<f64> = (0..300)
        .map(|i| ((i * 104_729) % 97) as f64 / 97.0 + if (i * 7919) % 10 < 3 { 0.3 } else { 0.0 })
        .collect();
    let options = BootstrapOptions {
        replicates: 500,
        seed: 42,
        ..BootstrapOptions::default()
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| auc_ci_bootstrap(&labels, &scores, &options).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(4));
    assert_eq!(one, run(1));
    assert_eq!(one.replicates, 500);
    assert_eq!(one.skipped, 0);
    assert!(one.lower < one.estimate && one.estimate < one.upper);
    // Another seed gives another, but close, interval.
    let other = auc_ci_bootstrap(
        &labels,
        &scores,
        &BootstrapOptions {
            seed: 43,
            ..options.clone()
        },
    )
    .unwrap();
    assert_ne!(one, other);
    assert!((one.lower - other.lower).abs() < 0.03 && (one.upper - other.upper).abs() < 0.03);
    // With 300 cases the percentile interval is close to DeLong's.
    let delong = voxide_eval::classification::auc_ci_delong(&labels, &scores, 0.95).unwrap();
    assert!(
        (one.lower - delong.lower).abs() < 0.02,
        "{one:?} vs {delong:?}"
    );
    assert!(
        (one.upper - delong.upper).abs() < 0.02,
        "{one:?} vs {delong:?}"
    );

    // The CPM bootstrap over scans, likewise.
    let scans: Vec<ScanMatches> = (0..30)
        .map(|s| ScanMatches {
            detections: (0..5)
                .map(|d| MatchedDetection {
                    score: ((s * 31 + d * 17) % 23) as f64 / 23.0,
                    outcome: if d < s % 3 {
                        Outcome::TruePositive { lesion: d }
                    } else {
                        Outcome::FalsePositive
                    },
                })
                .collect(),
            lesions: 2,
        })
        .collect();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| cpm_bootstrap(&scans, &options).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert!(one.lower <= one.estimate && one.estimate <= one.upper);
    assert_eq!(one.estimate, froc(&scans).unwrap().cpm().score);
}
