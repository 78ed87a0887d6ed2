//! Bar charts as SVG, drawn on the server with plotters' SVG backend: no script, no
//! external asset, and text the page's own font renders.

use plotters::prelude::*;

use crate::ConsoleError;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 220;
/// The bars' colour; the browser tests find the bars by it.
pub const BAR_COLOUR: RGBColor = RGBColor(0x25, 0x63, 0xeb);
/// Labels on the time axis, at most.
const X_LABELS: usize = 8;

/// One bar per value, labelled by `label(index)` along the bottom; an empty bucket
/// draws no bar. The SVG document as text.
pub fn bars(values: &[u64], label: impl Fn(usize) -> String) -> Result<String, ConsoleError> {
    let mut svg = String::new();
    draw(&mut svg, values, &label)
        .map_err(|err| ConsoleError::Internal(format!("chart: {err}")))?;
    Ok(svg)
}

fn draw(
    svg: &mut String,
    values: &[u64],
    label: &dyn Fn(usize) -> String,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let peak = values.iter().copied().max().unwrap_or(0);
    // Headroom above the highest bar, and a scale of at least 0-5 for few requests.
    let top = (peak + peak / 10 + 1).max(5);
    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(48)
        .build_cartesian_2d((0..values.len()).into_segmented(), 0u64..top)?;
    let every = values.len().div_ceil(X_LABELS).max(1);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .label_style(("sans-serif", 13))
        .x_labels(values.len())
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) if i % every == 0 => label(*i),
            _ => String::new(),
        })
        .y_labels(5)
        .y_label_formatter(&|y| y.to_string())
        .draw()?;
    chart.draw_series(
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0)
            .map(|(i, v)| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0),
                        (SegmentValue::Exact(i + 1), *v),
                    ],
                    BAR_COLOUR.filled(),
                );
                bar.set_margin(0, 0, 2, 2);
                bar
            }),
    )?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_non_empty_bucket_is_one_bar() {
        let values = [0, 3, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let svg = bars(&values, |i| format!("t{i}")).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        let bars = svg.matches("fill=\"#2563EB\"").count();
        assert_eq!(bars, 2, "{svg}");
        assert!(svg.contains("\nt0\n"), "labels are drawn: {svg}");
        assert!(
            !svg.contains("\nt1\n"),
            "not every bucket is labelled: {svg}"
        );
    }
}
