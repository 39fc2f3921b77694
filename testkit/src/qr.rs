//! Reading a QR code back, as a phone's camera would: the SVG is drawn to
//! pixels and a QR reader decodes them.

/// The text of the one QR code that `svg` draws. Panics when there is not
/// exactly one readable code.
pub fn decode(svg: &str) -> String {
    let tree =
        resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).expect("valid SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("a canvas");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let (width, height) = (pixmap.width() as usize, pixmap.height() as usize);
    let rgba = pixmap.data();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        // Premultiplied RGBA: drawn over white, a pixel's grey is its red
        // plus whatever its alpha leaves of the white below.
        let i = (y * width + x) * 4;
        rgba[i].saturating_add(255 - rgba[i + 3])
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("the code decodes").1
}
