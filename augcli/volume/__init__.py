"""The volume modality: CT and MRI scans in 3-D and 4-D (NIfTI, NRRD, MetaImage), with label maps."""
