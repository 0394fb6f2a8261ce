use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// Axis-aligned box in original-image pixels. It may reach outside the image when the face is
/// cut by the frame: the detector predicts the whole face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    pub fn right(&self) -> f32 {
        self.x + self.width
    }

    pub fn bottom(&self) -> f32 {
        self.y + self.height
    }

    pub fn area(&self) -> f32 {
        self.width * self.height
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &BoundingBox) -> BoundingBox {
        let (x, y) = (self.x.min(other.x), self.y.min(other.y));
        let right = self.right().max(other.right());
        let bottom = self.bottom().max(other.bottom());
        BoundingBox {
            x,
            y,
            width: right - x,
            height: bottom - y,
        }
    }

    /// Area of the part inside a `width` x `height` frame.
    pub fn area_inside(&self, width: f32, height: f32) -> f32 {
        let w = (self.right().min(width) - self.x.max(0.0)).max(0.0);
        let h = (self.bottom().min(height) - self.y.max(0.0)).max(0.0);
        w * h
    }

    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let w = (self.right().min(other.right()) - self.x.max(other.x)).max(0.0);
        let h = (self.bottom().min(other.bottom()) - self.y.max(other.y)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// The five YuNet landmarks, named from the subject's point of view: the subject's right eye
/// is on the image's left in a selfie.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Landmarks {
    pub right_eye: Point,
    pub left_eye: Point,
    pub nose: Point,
    pub right_mouth: Point,
    pub left_mouth: Point,
}

impl Landmarks {
    pub fn all(&self) -> [Point; 5] {
        [
            self.right_eye,
            self.left_eye,
            self.nose,
            self.right_mouth,
            self.left_mouth,
        ]
    }

    pub fn interocular_distance(&self) -> f32 {
        (self.left_eye.x - self.right_eye.x).hypot(self.left_eye.y - self.right_eye.y)
    }

    /// Where the whole face should be, from facial proportions: about one interocular distance
    /// either side of the eye midpoint, 0.8 above the eyes (brows, forehead) and 0.8 below the
    /// mouth (chin). For a face cut by the frame the detector's box shrinks to the visible part
    /// but the landmarks still imply the whole face, which then reaches past the edge.
    pub fn implied_face(&self) -> BoundingBox {
        let iod = self.interocular_distance();
        let mid_x = (self.left_eye.x + self.right_eye.x) / 2.0;
        let eyes_y = (self.left_eye.y + self.right_eye.y) / 2.0;
        let mouth_y = (self.left_mouth.y + self.right_mouth.y) / 2.0;
        let (top, bottom) = (eyes_y - 0.8 * iod, mouth_y.max(eyes_y) + 0.8 * iod);
        BoundingBox {
            x: mid_x - iod,
            y: top,
            width: 2.0 * iod,
            height: bottom - top,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Face {
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    pub landmarks: Landmarks,
}
